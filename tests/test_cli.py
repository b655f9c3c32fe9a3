"""The CLI dispatcher: every listed command is registered by the module the table names."""
from __future__ import annotations

import argparse
import importlib

import pytest

from dtgkit.cli import COMMANDS, main


@pytest.mark.parametrize("module", sorted(set(COMMANDS.values())))
def test_each_module_registers_its_commands(module):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(module).add_cli(sub)
    registered = set(sub.choices)
    expected = {c for c, m in COMMANDS.items() if m == module}
    assert expected <= registered, f"{module} does not register {expected - registered}"


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert "synth" in capsys.readouterr().out


def test_user_errors_are_one_line_without_traceback(tmp_path, capsys):
    rc = main(["pretrain", "--preset", "ci-tiny", "--set", "pretrain.lrr=1"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "pretrain.lrr" in err and "Traceback" not in err


def test_non_finite_loss_stops_with_exit_code_1(monkeypatch, capsys):
    from dtgkit import demo
    from dtgkit.train.engine import NonFiniteLossError

    def boom(args):
        raise NonFiniteLossError("step 7: loss/dtg is nan")

    monkeypatch.setattr(demo, "run_demo", boom)
    assert main(["demo", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "dtgkit demo: stopped: step 7: loss/dtg is nan" in err and "Traceback" not in err
