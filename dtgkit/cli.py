"""The `dtgkit` command line: one sub-command per stage of the data flow.

Each stage module owns its sub-commands through a function ``add_cli(subparsers)`` that adds
its parsers and sets ``func`` (called with the parsed args, returning an exit code). This file
only lists those modules, in the order the data flows through them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: modules that contribute sub-commands, in data-flow order
CLI_MODULES = (
    "dtgkit.data.synth",
    "dtgkit.data.video",
    "dtgkit.models.teachers",
    "dtgkit.train.cli",
    "dtgkit.viz.figures",
    "dtgkit.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dtgkit",
        description="DTG-Net: differentiated teachers guided self-supervised video action recognition",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:  # a stage not built yet: its commands are absent
            if err.name == name:
                continue
            raise
        add_cli = getattr(module, "add_cli", None)
        if add_cli is not None:
            add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as err:
        # library errors name the file / line / key; show them without a traceback
        print(f"dtgkit {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
