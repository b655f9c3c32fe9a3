"""``dtgkit pretrain | finetune | joint | evaluate``: the training stages on the command line.

Every command resolves its config the one way (:func:`dtgkit.config.resolve_config`):
``--preset NAME``, then ``--config FILE.yaml``, then each ``--set section.key=value``::

    dtgkit pretrain --preset ci-tiny --set data.root=runs/synth --set pretrain.epochs=3
    dtgkit pretrain --preset ci-tiny --resume                  # continue exactly
    dtgkit finetune --preset ci-tiny --init runs/ci-tiny-pretrain-dtg --run-dir runs/ci-tiny-finetune
    dtgkit joint    --preset ci-tiny --set dtg.method=none     # plain supervised TSN
    dtgkit evaluate runs/ci-tiny-finetune                      # kNN, linear probe, classifier
    torchrun --nproc_per_node=2 -m dtgkit pretrain --preset cpu-demo   # several processes

Each prints the run's ``results.json`` (rank 0) on stdout, alone (progress and notes go to
stderr, so ``dtgkit pretrain ... | jq`` works), and exits 0; a NaN / inf loss or bad input exits 1
with one line naming the step / file / key (``dtgkit --debug ...`` shows the traceback).

A run folder holds one run: without ``--resume`` a folder with finished work is refused,
``--overwrite`` moves it aside to ``<run>.old-<time>`` only after the new run's data and config
passed every check, and ``--resume`` continues it only with the same config and input files
(``--allow-changed-init`` accepts a changed teacher / init file).
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from dtgkit.config import list_presets, resolve_config

__all__ = ["add_cli"]


def _config_args(p: argparse.ArgumentParser, *, resume: bool = True) -> None:
    p.add_argument("--preset", choices=list_presets(), default=None,
                   help="named preset (paper-*, cpu-demo, ci-tiny)")
    p.add_argument("--config", metavar="FILE.yaml", default=None, help="YAML config on top of the preset")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override one config key, e.g. --set pretrain.lr=0.05 (repeatable)")
    if resume:
        p.add_argument("--resume", action="store_true",
                       help="continue the run folder's checkpoint exactly (a finished run "
                            "returns its stored results)")
        p.add_argument("--overwrite", action="store_true",
                       help="start afresh even if the run folder holds a finished run (it is "
                            "moved aside to <run>.old-<time> once every check passed)")
        p.add_argument("--run-dir", default=None, help="run folder (default out_dir/<preset>-<stage>)")
        p.add_argument("--allow-changed-init", action="store_true",
                       help="--resume although a teacher / init file's sha256 changed")


def _cfg(args: argparse.Namespace):
    return resolve_config(args.preset, args.config, args.overrides)


def _print(obj: Any) -> None:
    from dtgkit.train.distributed import is_main_process

    if is_main_process():
        print(json.dumps(obj, indent=1, default=str))


def _guarded(fn):
    """Run a stage and leave the process group at the end (a non-finite loss becomes exit
    code 1 with its message in :func:`dtgkit.cli.main`)."""
    def run(args: argparse.Namespace) -> int:
        from dtgkit.train import distributed as D

        try:
            return fn(args)
        finally:
            D.cleanup()
    return run


@_guarded
def _cmd_pretrain(args: argparse.Namespace) -> int:
    from dtgkit.train.pretrain import pretrain

    res = pretrain(_cfg(args), resume=args.resume, overwrite=args.overwrite, run_dir=args.run_dir,
                   allow_changed_init=args.allow_changed_init)
    _print(res.results)
    return 0


@_guarded
def _cmd_finetune(args: argparse.Namespace) -> int:
    from dtgkit.train.finetune import finetune

    res = finetune(_cfg(args), init=args.init, resume=args.resume, overwrite=args.overwrite,
                   run_dir=args.run_dir, allow_changed_init=args.allow_changed_init)
    _print(res.results)
    return 0


@_guarded
def _cmd_joint(args: argparse.Namespace) -> int:
    from dtgkit.train.finetune import joint

    res = joint(_cfg(args), resume=args.resume, overwrite=args.overwrite, run_dir=args.run_dir,
                allow_changed_init=args.allow_changed_init)
    _print(res.results)
    return 0


@_guarded
def _cmd_evaluate(args: argparse.Namespace) -> int:
    from dtgkit.train.finetune import evaluate

    # --config / --set lie over the checkpoint's own config (or over --preset when given)
    cfg = resolve_config(args.preset) if args.preset else None
    res = evaluate(cfg, args.checkpoint, linear=not args.no_linear, out=args.out,
                   config_file=args.config, overrides=args.overrides)
    _print(res)
    return 0


def add_cli(subparsers) -> None:
    """Add ``pretrain``, ``finetune``, ``joint`` and ``evaluate`` to the ``dtgkit`` parser."""
    p = subparsers.add_parser("pretrain", help="self-supervised pre-training (dtg, distinit-*, moco)",
                              description="Self-supervised DTG-Net pre-training (paper Sec. 3, 4.3); "
                                          "ends with a kNN monitor in results.json.")
    _config_args(p)
    p.set_defaults(func=_cmd_pretrain)

    p = subparsers.add_parser("finetune", help="fine-tune student + classifier and test it",
                              description="Fine-tune the student with a classifier on labels "
                                          "(Sec. 4.2); reports acc@1, acc@5, mAP, mean class acc.")
    _config_args(p)
    p.add_argument("--init", metavar="CKPT", default=None,
                   help="pre-training checkpoint (or run folder) giving the student's weights")
    p.set_defaults(func=_cmd_finetune)

    p = subparsers.add_parser("joint", help="supervised DTG-Net (Eq. 3); dtg.method=none: plain TSN",
                              description="Supervised DTG-Net: alpha * L_contrast + beta * L_CE "
                                          "(Eq. 3, dtg.alpha / dtg.beta).")
    _config_args(p)
    p.set_defaults(func=_cmd_joint)

    p = subparsers.add_parser("evaluate", help="kNN, linear probe and classifier metrics of a checkpoint",
                              description="Evaluate a checkpoint on the data of its own config, "
                                          "with --config / --set laid on top; writes "
                                          "evaluation.json and features_test.npz (for t-SNE).")
    p.add_argument("checkpoint", help="checkpoint.pt or its run folder")
    _config_args(p, resume=False)
    p.add_argument("--no-linear", action="store_true", help="skip the linear probe")
    p.add_argument("--out", default=None, help="output folder (default: the checkpoint's)")
    p.set_defaults(func=_cmd_evaluate)
