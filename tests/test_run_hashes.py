"""The committed ablation results keep their run folders: a config key added later (at its
default) must not change an arm's config hash, or ``dtgkit ablate`` re-runs every finished run.

The hashes in ``notebooks/results/<suite>.csv`` (``run_dir`` = ``.../seed0-<hash>``) were
written when the runs were made; each is recomputed here from today's config code.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from dtgkit import ablate
from dtgkit.experiments import arms as A
from dtgkit.experiments import suites
from dtgkit.experiments.teachers import ensure_teachers

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "results"
#: arms without offline weighting (those need the teachers' proxy accuracies of the run)
CASES = [("table2", "dtg-img_img"), ("table3", "all-online1"), ("table4", "sup-dtg"),
         ("table1", "random-init")]


class _Hashed(Exception):
    pass


def _committed_hash(suite: str, key: str) -> str:
    with open(RESULTS / f"{suite}.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["arm"] == key and r["seed"] == "0"]
    if not rows or not rows[0].get("run_dir"):
        pytest.skip(f"{suite}.csv has no seed-0 row for {key}")
    return rows[0]["run_dir"].rsplit("-", 1)[1]


@pytest.mark.parametrize(("suite", "key"), CASES)
def test_committed_runs_keep_their_config_hash(suite, key, tmp_path, monkeypatch):
    want = _committed_hash(suite, key)
    monkeypatch.chdir(tmp_path)  # data.root "runs/synth": no world there, whatever this checkout holds
    parser = argparse.ArgumentParser()
    ablate.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ablate", "--suite", suite, "--out", str(tmp_path), "--no-progress"])
    cfg = suites.budget_config(args, suite)
    teachers = ensure_teachers(work_dir=tmp_path / "teachers", size=suites.teacher_size(args, cfg),
                               progress=False)
    cfg.dtg.teachers = [teachers["imagenet"]]
    arm = next(a for a in suites.suite_arms(suite, teachers, cfg) if a.key == key)
    got = []
    real = A.config_hash

    def spy(*a):
        got.append(real(*a))
        raise _Hashed  # stop before anything runs

    monkeypatch.setattr(A, "config_hash", spy)
    with pytest.raises(_Hashed):
        A.run_arm(cfg, arm, tmp_path / suite, 0, frozen=arm.supervised is None)
    assert got == [want], (f"{suite}/{key}: config hash {got[0]} != committed {want}: a new config "
                           "key probably belongs in experiments.arms._ADDED_LATER")


def test_a_new_world_at_the_same_path_gets_new_run_folders(tmp_path):
    """Runs of the v2 world (SYNTH_VERSION 3) must not re-use finished runs of the first world
    at the same ``data.root``; the first world's committed runs keep their hashes."""
    import json

    from dtgkit.config import get_preset
    from dtgkit.data.synth import META_NAME

    cfg = get_preset("cpu-demo")
    cfg.data.root = str(tmp_path)
    assert A.world_identity(tmp_path) == ()  # no world yet
    hashes = {}
    for version in (2, 3):
        (tmp_path / META_NAME).write_text(json.dumps({"version": version}))
        hashes[version] = A.config_hash(cfg, *A.world_identity(tmp_path))
    assert A.world_identity(tmp_path) == ({"synth_version": 3},)
    assert hashes[2] == A.config_hash(cfg)  # the first world: unchanged
    assert hashes[3] != hashes[2]
