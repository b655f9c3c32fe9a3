"""Experiments: several methods trained under one budget and evaluated the same way, the
paper's tables and claims measured over seeds (``dtgkit demo``, ``dtgkit ablate``).

* :mod:`~dtgkit.experiments.arms` - :class:`Arm` (one row of a comparison), :func:`run_arm`,
  :func:`run_arms`, the frozen-feature evaluation;
* :mod:`~dtgkit.experiments.teachers` - the paper's teacher roles, making missing teachers,
  the offline-weight proxy;
* :mod:`~dtgkit.experiments.suites` - the suites (demo, Tables 1-4, efficiency), the budget and
  :func:`run_suite`, the one runner;
* :mod:`~dtgkit.experiments.report` - tables, CSV, claims and both markdown reports;
* :mod:`~dtgkit.experiments.resources` - wall / CPU time, peak memory, the machine;
* :mod:`~dtgkit.experiments.lab` - :func:`rerun_arm`: one arm of a committed suite re-run at
  its budget (the labs' live experiments).

The names below are re-exported here for notebooks (``from dtgkit import experiments as X``).
"""
from __future__ import annotations

from dtgkit.experiments.arms import Arm, config_hash, frozen_eval, run_arm, run_arms
from dtgkit.experiments.lab import rerun_arm
from dtgkit.experiments.report import (
    CLAIMS,
    check_claims,
    committed_budget,
    format_mean_std,
    load_suite,
    markdown_table,
    plot_suite,
    read_csv,
    summarise,
    write_claims,
    write_csv,
)
from dtgkit.experiments.resources import ResourceMonitor, machine_info, quiet
from dtgkit.experiments.suites import (
    DEMO,
    DEMO_SYNTH,
    SUITE_METRICS,
    SUITE_TITLES,
    SUITES,
    budget_config,
    run_suite,
    suite_arms,
)
from dtgkit.experiments.teachers import (
    ROLE_ORDER,
    TEACHER_ROLES,
    ensure_teachers,
    teacher_proxy_accuracies,
)

__all__ = [
    "CLAIMS",
    "DEMO",
    "DEMO_SYNTH",
    "ROLE_ORDER",
    "SUITES",
    "SUITE_METRICS",
    "SUITE_TITLES",
    "TEACHER_ROLES",
    "Arm",
    "ResourceMonitor",
    "budget_config",
    "check_claims",
    "committed_budget",
    "config_hash",
    "ensure_teachers",
    "format_mean_std",
    "frozen_eval",
    "load_suite",
    "machine_info",
    "markdown_table",
    "plot_suite",
    "quiet",
    "read_csv",
    "rerun_arm",
    "run_arm",
    "run_arms",
    "run_suite",
    "suite_arms",
    "summarise",
    "teacher_proxy_accuracies",
    "write_claims",
    "write_csv",
]
