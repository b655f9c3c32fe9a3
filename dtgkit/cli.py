"""The `dtgkit` command line: one sub-command per stage of the data flow.

Each stage module owns its sub-commands through a function ``add_cli(subparsers)`` that adds
its parsers and sets ``func`` (called with the parsed args, returning an exit code). This file
only lists those modules, in the order the data flows through them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command -> the module whose ``add_cli`` adds it, in data-flow order. Only the module of
#: the command being run is imported (torch-heavy modules stay unloaded for the others).
COMMANDS = {
    "synth": "dtgkit.data.synth",
    "check-videos": "dtgkit.data.check_videos",
    "teachers": "dtgkit.models.teachers",
    "train-teacher": "dtgkit.models.teacher_training",
    "cache-teachers": "dtgkit.models.teacher_cache",
    "pretrain": "dtgkit.train.cli",
    "finetune": "dtgkit.train.cli",
    "joint": "dtgkit.train.cli",
    "evaluate": "dtgkit.train.cli",
    "demo": "dtgkit.demo",
    "ablate": "dtgkit.ablate",
    "figures": "dtgkit.viz.figures",
    "bench": "dtgkit.bench",
}
CLI_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``dtgkit`` parser; with ``command``, only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="dtgkit",
        description="DTG-Net: differentiated teachers guided self-supervised video action recognition",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else CLI_MODULES
    for name in modules:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except FloatingPointError as err:  # e.g. train.engine.NonFiniteLossError: last good checkpoint kept
        print(f"dtgkit {args.command}: stopped: {err}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as err:
        # library errors name the file / line / key; show them without a traceback
        print(f"dtgkit {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
