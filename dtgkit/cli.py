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
    "config": "dtgkit.config",
    "synth": "dtgkit.data.synth",
    "check-videos": "dtgkit.data.check_videos",
    "teachers": "dtgkit.models.teachers",
    "train-teacher": "dtgkit.models.teacher_training",
    "cache-teachers": "dtgkit.models.teacher_cache",
    "calibrate": "dtgkit.studies.calibration",
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


#: commands that train in a run folder and take ``--resume``
RESUMABLE = ("pretrain", "finetune", "joint")


def resume_command(argv: list[str]) -> str:
    """The command line that continues an interrupted ``dtgkit <stage> ...`` exactly."""
    import shlex

    args = [a for a in argv if a not in ("--overwrite", "--resume", "--debug")]
    return shlex.join(["dtgkit", *args, "--resume"])


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input ends in one line on stderr naming the file / line / key and
    exit code 1 (``--debug``, anywhere on the line, shows the traceback instead); Ctrl-C prints
    the command that resumes a training stage."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (anywhere on the line)")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.command in RESUMABLE:
            print(f"dtgkit {args.command}: interrupted; the last finished epoch is in the run "
                  f"folder's checkpoint. Continue exactly with: {resume_command(argv)}",
                  file=sys.stderr)
        else:
            print(f"dtgkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        if isinstance(err, FloatingPointError):  # train.engine.NonFiniteLossError: checkpoint kept
            print(f"dtgkit {args.command}: stopped: {err}", file=sys.stderr)
        elif isinstance(err, (OSError, ValueError)):
            # library errors name the file / line / key (FileNotFoundError, files.OutputError ...)
            print(f"dtgkit {args.command}: error: {_one_line(err)}", file=sys.stderr)
        else:
            print(f"dtgkit {args.command}: error: {type(err).__name__}: {_one_line(err)} "
                  f"(dtgkit --debug ... shows where)", file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    raise SystemExit(main())
