"""Every key and flag can be found from the command line: ``dtgkit config show`` lists every
config key with its value and help, every ``dtgkit synth`` flag has help and its default, and
``dtgkit bench`` lists exactly the suites it runs."""
from __future__ import annotations

import argparse
import re
from dataclasses import fields

import pytest

from dtgkit import config as C
from dtgkit.cli import main


def _keys(cfg: C.Config) -> list[str]:
    return [f"{s.name}.{f.name}" for s in fields(cfg) if s.name != "preset"
            for f in fields(getattr(cfg, s.name))] + ["preset"]


@pytest.mark.parametrize("preset", [None, *C.list_presets()])
def test_config_show_prints_every_key_value_and_help(preset, capsys):
    argv = ["config", "show"] + (["--preset", preset] if preset else [])
    assert main(argv) == 0
    out = capsys.readouterr().out
    cfg = C.resolve_config(preset)
    described = {key: (value, text) for key, value, text in C.describe(cfg)}
    assert sorted(described) == sorted(_keys(cfg))
    for key, (value, text) in described.items():
        assert text, f"{key} has no help text: add a #: comment in dtgkit/config.py"
        assert re.search(rf"^{re.escape(key)} = ", out, flags=re.MULTILINE), key
    assert f"data.size = {cfg.data.size}" in out
    assert f"pretrain.lr = {cfg.pretrain.lr}" in out


def test_config_show_applies_set_and_names_bad_keys(capsys):
    assert main(["config", "show", "--preset", "ci-tiny", "--set", "pretrain.lr=0.5"]) == 0
    assert "pretrain.lr = 0.5" in capsys.readouterr().out
    assert main(["config", "show", "--set", "pretrain.lrr=1"]) == 1
    assert "pretrain.lrr" in capsys.readouterr().err


def test_field_help_reads_trailing_blocks_and_continuations():
    helps = C.field_help(C.DTGConfig)
    # a trailing comment continued on the next line, the next field with its own comment
    assert helps["weight_temperature"].endswith("see dtgkit.dtg.weighting)")
    assert helps["fusion"].startswith("loss (Sec. 4.3.3)")
    # a block above a field without a trailing comment
    assert helps["fusion_scale"].startswith("feature fusion, how w_k scales")
    assert "frozen image teachers" in helps["teachers"]


def _synth_parser() -> argparse.ArgumentParser:
    from dtgkit.data import synth

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    synth.add_cli(sub)
    return sub.choices["synth"]


def test_every_synth_flag_has_help_and_its_default():
    from dtgkit.data.synth import SynthParams

    parser = _synth_parser()
    flags = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    for f in fields(SynthParams):
        assert f.name in flags, f"dtgkit synth has no flag for SynthParams.{f.name}"
    text = parser.format_help()
    for dest, action in flags.items():
        assert action.help and len(action.help) > 8, f"--{dest} has no help text"
        if action.default not in (None, False):
            shown = " ".join(map(str, action.default)) if isinstance(action.default, tuple) else str(action.default)
            assert f"default {shown}" in " ".join(text.split()), f"--{dest}: default {shown} not shown"
    args = parser.parse_args(["out", "--speed-range", "0.5", "2", "--classes", "3"])
    assert args.speed_range == [0.5, 2.0] and args.classes == 3


def test_bench_help_lists_only_the_suites_it_runs():
    from dtgkit import bench

    listed = re.findall(r"^    (\w+)\s{2,}", bench.__doc__.split("Suites:", 1)[1], flags=re.MULTILINE)
    assert set(listed) == {*bench.SUITES, "all"}, listed
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    bench.add_cli(sub)
    choices = next(a.choices for a in sub.choices["bench"]._actions if a.dest == "suite")
    assert set(choices) == set(listed)
    with pytest.raises(SystemExit):
        sub.choices["bench"].parse_args(["memory"])
