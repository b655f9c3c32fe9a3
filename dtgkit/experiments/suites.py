"""The suites: the paper's Tables 1-4, the data-efficiency claim and the demo, each a list of
:class:`~dtgkit.experiments.arms.Arm` run under one budget by one runner (:func:`run_suite`).

Teacher roles: ``imagenet`` = EfficientNet-Lite0 ImageNet, ``scenes`` = Places analogue,
``action_a`` / ``action_b`` = BU101 / Stanford40 analogues
(:data:`dtgkit.experiments.teachers.TEACHER_ROLES`).

* ``demo`` - ``dtgkit demo``: random init, DistInit-L1 (all teachers), MoCo-video and DTG with
  all teachers and offline weights (the teacher-kNN proxy, or four single-teacher DTG arms first
  with ``offline_source="single-runs"``).
* ``table1`` - random init; ImageNet-inflated init (needs ``--imagenet-init FILE``, a 2D
  ImageNet state dict for the student's backbone: offline only EfficientNet-Lite0 ImageNet
  weights ship, which do not fit a ResNet student, so without the file the row is recorded as
  skipped with that reason); DistInit-L1 (ImageNet teacher, as in DistInit); MoCo-video; DTG
  with the single ImageNet teacher; DTG with all teachers, offline weights (teacher-kNN proxy).
* ``table2`` - DTG (ImageNet teacher) with the four input types of ``data.pair_mode``:
  img/img, img/seq, seq/seq with overlap, seq/seq without overlap. The student stays TSN in
  every row (the paper's img/seq row used a 3D-ResNet student).
* ``table3`` - DTG with each single teacher, ImageNet + scenes, both still-action teachers,
  all four with uniform / offline / online1 / online2 weights. Offline weights come from the
  single-teacher rows of the same seed (the paper's procedure).
* ``table4`` - supervised TSN (``joint``, ``dtg.method=none``) vs. supervised DTG (Eq. 3,
  all teachers, uniform), from a random init and from a DTG-pre-trained init (the paper's SSL
  column; skipped for students that cannot load a 2D init).
* ``efficiency`` - DTG (ImageNet teacher) vs. MoCo-video pre-trained on 10 / 25 / 50 / 100 %
  of the training videos (fine-tuned on all of them), and with 1/4, 1/2 and all of the epochs.

The budget (:func:`budget_config`) is the ``cpu-demo`` preset plus the knobs of
:func:`add_budget_args` (``--quick``: ``ci-tiny`` with tiny random teachers). Every run is
resumable; a run shared by two suites is trained once (:mod:`dtgkit.experiments.arms`).
"""
from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dtgkit.config import Config, apply_overrides, get_preset, validate
from dtgkit.data.synth import ensure_synth, sample_root
from dtgkit.experiments.arms import Arm, run_arms
from dtgkit.experiments.resources import ResourceMonitor
from dtgkit.experiments.teachers import (
    ROLE_ORDER,
    TEACHER_ROLES,
    ensure_teachers,
    parse_teacher_roles,
    teacher_proxy_accuracies,
)
from dtgkit.metrics import METRICS
from dtgkit.models.students import accepts_2d_init

__all__ = [
    "DEMO",
    "DEMO_SYNTH",
    "LAB_SYNTH",
    "OFFLINE_SOURCES",
    "PRESET_SYNTH",
    "PUBLISHED_FILES",
    "SUITES",
    "SUITE_METRICS",
    "SUITE_TITLES",
    "add_budget_args",
    "add_suite_args",
    "budget_config",
    "demo_arms",
    "parse_suite_args",
    "publish_run_files",
    "run_suite",
    "select_arms",
    "suite_arms",
    "synth_params",
    "teacher_size",
]

#: the demo's SynthActions set: the default world's 16 classes, 5 groups of 3 clips per class (2
#: groups for test): 144 training / 96 test videos
DEMO_SYNTH: dict[str, Any] = {"classes": 16, "videos_per_class": 15, "clips_per_group": 3,
                              "test_groups": 2, "frames": 32, "size": 112, "seed": 0,
                              "stills_per_class": 0}
#: the ``lab`` preset's SynthActions set (issue 13): the default world's 16 classes, 40 groups of
#: 2 clips per class, 16 groups for test: 768 training / 512 test videos (one test video 0.2
#: points; binomial error 2.2 points at 50 %). The world calibrated in README's "lab regime".
LAB_SYNTH: dict[str, Any] = {"classes": 16, "videos_per_class": 80, "clips_per_group": 2,
                             "test_groups": 16, "frames": 32, "size": 112, "seed": 0,
                             "stills_per_class": 0}
#: preset -> its SynthActions set (:func:`synth_params`; other presets: :data:`DEMO_SYNTH`)
PRESET_SYNTH = {"lab": LAB_SYNTH}
DEMO = "demo"
OFFLINE_SOURCES = ("teacher-knn", "single-runs")
#: files of one seed's runs copied next to the tables (``publish_run_files``), small enough to
#: commit: the figures of the notebooks and of ``dtgkit figures`` are drawn from them
PUBLISHED_FILES = ("metrics.jsonl", "results.json", "features_test.npz")

#: the ablation suites of ``dtgkit ablate`` (the demo is a suite too, :data:`DEMO`)
SUITES = ("table1", "table2", "table3", "table4", "efficiency")
SUITE_TITLES = {
    "demo": "dtgkit demo: DTG-Net vs. baselines on SynthActions",
    "table1": "Table 1 shape: initialisations and pre-training methods (fine-tuned on SynthActions)",
    "table2": "Table 2: input types of DTG-Net",
    "table3": "Table 3: differentiated teacher guidance",
    "table4": "Table 4: supervised DTG-Net (joint loss, Eq. 3) vs. supervised TSN",
    "efficiency": "Data efficiency: fraction of pre-training videos, and pre-training epochs",
}
SUITE_METRICS = {
    "demo": METRICS,
    "table1": METRICS,
    "table2": ("knn_acc1", "linear_acc1", "acc1", "acc5"),
    "table3": ("knn_acc1", "linear_acc1", "acc1", "acc5"),
    "table4": ("acc1", "acc5", "mAP"),
    "efficiency": ("knn_acc1", "linear_acc1", "acc1"),
}
PAIR_LABELS = {"img_img": "img -> img (overlap)", "img_seq": "img (teacher) / seq (student)",
               "seq_seq_overlap": "seq / seq, overlap", "seq_seq_disjoint": "seq / seq, no overlap"}



def _t(specs: list[str]) -> str:
    return "dtg.teachers=[" + ",".join(specs) + "]"


def suite_arms(suite: str, teachers: dict[str, str], base: Config, *,
               imagenet_init: str = "", offline_source: str = "teacher-knn") -> list[Arm]:
    """The arms of a suite (see the module docstring).

    Args:
        suite: one of :data:`SUITES` or ``"demo"``.
        teachers: role -> teacher spec (:func:`~dtgkit.experiments.teachers.ensure_teachers`).
        base: the budget (the student decides whether Table 4's SSL rows can run).
        imagenet_init: table1: a 2D ImageNet state dict for the student (else that row is skipped).
        offline_source: demo: ``"teacher-knn"`` (the proxy) or ``"single-runs"`` (four
            single-teacher DTG arms first, the paper's procedure).
    """
    if suite == DEMO:
        return demo_arms(teachers, offline_source)
    T = teachers
    all_t = [T[r] for r in ROLE_ORDER]
    if suite == "table1":
        if imagenet_init:
            inet = Arm("imagenet-init", "ImageNet init (no video pre-training)", pretrain=None,
                         overrides=[f"model.init={imagenet_init}"])
        else:
            inet = Arm("imagenet-init", "ImageNet init (no video pre-training)", pretrain=None,
                         skip=f"no 2D ImageNet weights for student {base.model.student} offline "
                              "(only EfficientNet-Lite0's ship); pass --imagenet-init FILE")
        return [
            Arm("random-init", "Random init (no pre-training)", pretrain=None),
            inet,
            Arm("distinit-l1", "DistInit-L1 (ImageNet teacher)", pretrain="distinit-l1",
                  overrides=[_t([T["imagenet"]]), "dtg.weighting=uniform"]),
            Arm("moco", "MoCo-video", pretrain="moco"),
            Arm("dtg-imagenet", "DTG (ImageNet teacher)",
                  overrides=[_t([T["imagenet"]]), "dtg.weighting=uniform"]),
            Arm("dtg-all-offline", "DTG (all teachers, offline, teacher-kNN proxy)",
                  overrides=[_t(all_t), "dtg.weighting=offline"]),
        ]
    if suite == "table2":
        return [Arm(f"dtg-{mode}", f"DTG, {PAIR_LABELS[mode]}",
                      overrides=[_t([T["imagenet"]]), "dtg.weighting=uniform", f"data.pair_mode={mode}"],
                      info={"pair_mode": mode})
                for mode in ("img_img", "img_seq", "seq_seq_overlap", "seq_seq_disjoint")]
    if suite == "table3":
        arms = [Arm(f"single-{r}", f"{r} ({TEACHER_ROLES[r]['paper']} analogue)",
                      overrides=[_t([T[r]]), "dtg.weighting=uniform"], info={"teachers": r})
                for r in ROLE_ORDER]
        arms += [Arm("imagenet+scenes", "ImageNet + scenes, uniform",
                       overrides=[_t([T["imagenet"], T["scenes"]]), "dtg.weighting=uniform"]),
                 Arm("action_a+action_b", "both still-action teachers, uniform",
                       overrides=[_t([T["action_a"], T["action_b"]]), "dtg.weighting=uniform"])]
        for w in ("uniform", "offline", "online1", "online2"):
            arms.append(Arm(f"all-{w}", f"all teachers, {w}",
                              overrides=[_t(all_t), f"dtg.weighting={w}"],
                              offline_from=tuple(f"single-{r}" for r in ROLE_ORDER) if w == "offline" else (),
                              info={"weighting": w}))
        return arms
    if suite == "table4":
        can_init = accepts_2d_init(base.model.student)
        why = "" if can_init else f"student {base.model.student} cannot load a 2D init (model.init)"
        all_u = [_t(all_t), "dtg.weighting=uniform"]
        return [
            Arm("ssl-dtg", "(SSL) DTG pre-training, all teachers", overrides=all_u,
                  skip=why, info={"role": "pre-training for the SSL rows"}),
            Arm("sup-tsn", "supervised TSN (no DTG), random init", pretrain=None, supervised="none"),
            Arm("sup-dtg", "supervised DTG, random init", pretrain=None, supervised="dtg", overrides=all_u),
            Arm("ssl-sup-tsn", "supervised TSN (no DTG), DTG-pre-trained init", pretrain=None,
                  supervised="none", init_from="ssl-dtg", skip=why),
            Arm("ssl-sup-dtg", "supervised DTG, DTG-pre-trained init", pretrain=None, supervised="dtg",
                  overrides=all_u, init_from="ssl-dtg", skip=why),
        ]
    if suite == "efficiency":
        arms = []
        for frac in (0.1, 0.25, 0.5, 1.0):
            for method, label in (("dtg", "DTG (ImageNet teacher)"), ("moco", "MoCo-video")):
                ov = [_t([T["imagenet"]]), "dtg.weighting=uniform"] if method == "dtg" else []
                arms.append(Arm(f"{method}-frac{int(frac * 100)}", f"{label}, {int(frac * 100)}% videos",
                                  pretrain=method, overrides=ov, pretrain_overrides=[f"data.fraction={frac}"],
                                  info={"study": "fraction", "fraction": frac, "method": method,
                                        "pretrain_epochs": base.pretrain.epochs}))
        E = base.pretrain.epochs
        for ep in sorted({max(1, E // 4), max(1, E // 2)} - {E}):
            for method, label in (("dtg", "DTG (ImageNet teacher)"), ("moco", "MoCo-video")):
                ov = [_t([T["imagenet"]]), "dtg.weighting=uniform"] if method == "dtg" else []
                ms = [m for m in base.pretrain.milestones if m < ep]
                arms.append(Arm(f"{method}-ep{ep}", f"{label}, {ep} epoch{'s' if ep != 1 else ''}", pretrain=method, overrides=ov,
                                  pretrain_overrides=[f"pretrain.epochs={ep}", f"pretrain.milestones={ms}"],
                                  info={"study": "epochs", "fraction": 1.0, "method": method,
                                        "pretrain_epochs": ep}))
        return arms
    raise ValueError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}")


def select_arms(arms: Sequence[Arm], only: Sequence[str] = ()) -> list[Arm]:
    """The arms named in ``only`` and those they need (``offline_from``, ``init_from``), in
    suite order; all of them when ``only`` is empty.

    Raises:
        ValueError: a name that is not an arm of the suite.
    """
    if not only:
        return list(arms)
    by_key = {a.key: a for a in arms}
    unknown = [k for k in only if k not in by_key]
    if unknown:
        raise ValueError(f"unknown arm(s) {unknown}; arms: {', '.join(by_key)}")
    needed, todo = set(), list(only)
    while todo:
        key = todo.pop()
        if key not in needed:
            needed.add(key)
            arm = by_key[key]
            todo += [*arm.offline_from, *([arm.init_from] if arm.init_from else [])]
    return [a for a in arms if a.key in needed]


def add_suite_args(p: argparse.ArgumentParser) -> None:
    """The ``dtgkit ablate`` arguments that describe a suite's runs (what ``<suite>.md``
    records), the budget knobs (:func:`add_budget_args`) included."""
    p.add_argument("--suite", choices=SUITES, help="the suite to run")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument("--seed0", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--arms", default="", metavar="A[,B]",
                   help="run only these arms (and those they need); with the same budget the rows "
                        "of other arms and seeds already in RESULTS/<suite>.csv are kept, so a suite "
                        "can be filled arm by arm and seed by seed, in calls side by side")
    p.add_argument("--out", default="runs/ablate", help="run folders (default %(default)s)")
    p.add_argument("--results", default="notebooks/results", help="CSV / markdown folder (default %(default)s)")
    p.add_argument("--preset", default="", help="the budget's preset (default cpu-demo; e.g. "
                   "paper-ucf101-tsn-r18 with --set data.root=... on a GPU machine)")
    p.add_argument("--teacher", action="append", default=[], metavar="ROLE=SPEC",
                   help="the teacher of a role (imagenet, scenes, action_a, action_b), e.g. "
                        "scenes=places365:resnet18@/w/resnet18_places365.pth.tar; default: the "
                        "ImageNet Lite0 and the committed SynthActions teachers")
    p.add_argument("--imagenet-init", default="", metavar="FILE",
                   help="table1: a 2D ImageNet state dict for the student's backbone (e.g. torchvision "
                        "resnet18 weights); without it the ImageNet-init row is skipped with a reason")
    add_budget_args(p)


def parse_suite_args(argv: Sequence[str]) -> argparse.Namespace:
    """``dtgkit ablate`` arguments (``--suite ... --preset ...``) as the namespace
    :func:`budget_config` takes."""
    p = argparse.ArgumentParser(prog="dtgkit ablate", add_help=False)
    add_suite_args(p)
    return p.parse_args(list(argv))


def demo_arms(teachers: dict[str, str], offline_source: str = "teacher-knn") -> list[Arm]:
    """The demo's comparison (paper Table 1's shape): random init, DistInit-L1, MoCo-video and
    DTG with all teachers and offline weights (plus the single-teacher DTG arms when the offline
    weights come from them)."""
    specs = [teachers[r] for r in ROLE_ORDER if r in teachers]
    all_t = "dtg.teachers=[" + ",".join(specs) + "]"
    arms = [Arm("random-init", "Random init (no pre-training)", pretrain=None),
            Arm("distinit-l1", "DistInit-L1 (all teachers)", pretrain="distinit-l1",
                  overrides=[all_t, "dtg.weighting=uniform"]),
            Arm("moco", "MoCo-video", pretrain="moco")]
    singles: tuple[str, ...] = ()
    if offline_source == "single-runs":
        for role in ROLE_ORDER:
            if role in teachers:
                arms.append(Arm(f"dtg-{role}", f"DTG ({role} teacher)",
                                  overrides=[f"dtg.teachers=[{teachers[role]}]", "dtg.weighting=uniform"]))
        singles = tuple(a.key for a in arms[3:])
    arms.append(Arm("dtg-all-offline", "DTG (all teachers, offline weights)",
                      overrides=[all_t, "dtg.weighting=offline"], offline_from=singles))
    return arms


def budget_config(args: argparse.Namespace, suite: str = DEMO) -> Config:
    """The budget shared by every arm of a suite: ``cpu-demo`` (or ``ci-tiny`` with ``--quick``,
    or ``--preset``) plus the knobs of :func:`add_budget_args`. The ablation suites' default CPU
    budget logs every step (``run.log_every=1``, unless set) so that Figure 3 has a point per
    step of its short runs."""
    cfg = get_preset(getattr(args, "preset", "") or ("ci-tiny" if args.quick else "cpu-demo"))
    if args.quick and not args.data_root:
        cfg.data.root = str(sample_root())
    if args.data_root:
        cfg.data.root = args.data_root
    if args.epochs:
        cfg.pretrain.epochs = args.epochs
        cfg.pretrain.milestones = [m for m in cfg.pretrain.milestones if m < args.epochs]
    if args.finetune_epochs:
        cfg.finetune.epochs = args.finetune_epochs
        cfg.finetune.milestones = [m for m in cfg.finetune.milestones if m < args.finetune_epochs]
    if args.batch_size:
        cfg.pretrain.batch_size = cfg.finetune.batch_size = args.batch_size
    if args.max_steps:
        cfg.pretrain.max_steps_per_epoch = cfg.finetune.max_steps_per_epoch = args.max_steps
    cfg.run.out_dir = args.out
    cfg.run.progress = not args.no_progress
    cfg = apply_overrides(cfg, args.overrides)
    if suite != DEMO and not getattr(args, "preset", "") and not any(
            o.replace(" ", "").startswith("run.log_every=") for o in args.overrides):
        cfg.run.log_every = 1
    return cfg


def synth_params(cfg: Config) -> dict[str, Any]:
    """The SynthActions set a budget's runs make at ``data.root``: :data:`PRESET_SYNTH` of its
    preset (``lab``: :data:`LAB_SYNTH`), else :data:`DEMO_SYNTH`."""
    return PRESET_SYNTH.get(cfg.preset, DEMO_SYNTH)


def teacher_size(args: argparse.Namespace, cfg: Config) -> int | None:
    """Input size of the teachers: ``--teacher-size`` (-1: the clip size ``data.size``, or with
    the teacher feature cache (``dtg.use_cache``, the ``lab`` preset) each teacher's own; 0:
    each teacher's own default, 224 px for ImageNet Lite0 and 112 px for the SynthActions
    ones)."""
    size = getattr(args, "teacher_size", -1)
    if size < 0:
        return None if cfg.dtg.use_cache else cfg.data.size
    return size or None


def run_suite(suite: str, cfg: Config, *, out: str | Path, seeds: Sequence[int],
              teachers_dir: str | Path, quick: bool = False, teacher_input_size: int | None = None,
              teacher_overrides: Sequence[str] = (), imagenet_init: str = "",
              offline_source: str = "teacher-knn", synth_workers: int | None = None,
              only: Sequence[str] = (), say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every arm of a suite for every seed under the budget ``cfg`` (the demo too).

    Makes what is missing first: the SynthActions set at ``data.root`` (:func:`synth_params`;
    not with ``quick``), the teachers of every role (trained into ``teachers_dir`` if not
    committed). The offline weights of arms without single-teacher arms come from the
    teacher-kNN proxy of every role's teacher, computed once per seed (cached in ``out``).

    Args:
        suite: :data:`SUITES` or ``"demo"``.
        cfg: the budget (:func:`budget_config`).
        out: the suite's run folders (``out/<arm>/seed<S>-<hash>``).
        seeds: ``run.seed`` values.
        teachers_dir: where missing SynthActions teachers are trained.
        quick: tiny random teachers stand in for every role (tests).
        teacher_input_size: the teachers' input size (:func:`teacher_size`).
        teacher_overrides: ``ROLE=SPEC`` items replacing a role's teacher.
        imagenet_init, offline_source: see :func:`suite_arms`.
        synth_workers: processes generating SynthActions.
        only: run only these arms (and the arms their offline weights or init come from).
        say: progress messages.

    Returns:
        dict(rows (one per arm and seed, ``suite`` set), cfg (the budget with the suite's base
        teachers), teachers (role -> spec), proxy (spec -> teacher-kNN accuracy, those computed),
        synth (:func:`~dtgkit.data.synth.ensure_synth`'s summary or None), resources
        (:meth:`~dtgkit.experiments.resources.ResourceMonitor.summary`)).
    """
    mon = ResourceMonitor().start()
    synth = None
    if not quick and cfg.data.dataset == "synth":
        t0 = time.perf_counter()
        synth = ensure_synth(cfg.data.root, progress=cfg.run.progress, workers=synth_workers,
                             **synth_params(cfg))
        say(f"SynthActions at {cfg.data.root}: {synth['train']} training / {synth['test']} test "
            f"videos ({'re-used' if synth['cached'] else f'generated in {time.perf_counter() - t0:.0f} s'})")
    teachers = ensure_teachers(quick=quick, work_dir=teachers_dir, size=teacher_input_size,
                               progress=cfg.run.progress, say=say)
    teachers.update(parse_teacher_roles(teacher_overrides))
    cfg = cfg.copy()
    # the base teachers: all roles for the demo, the ImageNet teacher for the ablations (the
    # arms set their own; the base only matters to arms without teachers, and to their hash)
    cfg.dtg.teachers = [teachers[r] for r in (ROLE_ORDER if suite == DEMO else ("imagenet",))]
    validate(cfg)
    arms = select_arms(suite_arms(suite, teachers, cfg, imagenet_init=imagenet_init,
                                  offline_source=offline_source), only)
    all_specs = [teachers[r] for r in ROLE_ORDER]
    proxy: dict[str, float] = {}

    def offline_accs(seed: int) -> dict[str, float]:
        c = cfg.copy()
        c.run.seed = seed
        proxy.update(teacher_proxy_accuracies(c, all_specs, out, say=say))
        return proxy

    rows = run_arms(cfg, arms, out, seeds, offline_accs=offline_accs, say=say)
    for r in rows:
        r["suite"] = suite
    mon.stop()
    return {"rows": rows, "cfg": cfg, "teachers": teachers, "proxy": proxy, "synth": synth,
            "resources": mon.summary()}


def publish_run_files(rows: list[dict], dest: str | Path, *, seed: int = 0,
                      max_bytes: int = 400_000) -> list[str]:
    """Copy the small per-run files of one seed (:data:`PUBLISHED_FILES`, each at most
    ``max_bytes``) to ``dest/<arm>/<stage>/``, so the results folder holds the inputs of its
    figures (Figure 3's ``metrics.jsonl`` of the online1 run, Figure 4's ``features_test.npz`` of
    the supervised runs) after the git-ignored run folders are gone.

    Returns:
        the copied paths.
    """
    dest = Path(dest)
    out = []
    for r in rows:
        if int(r.get("seed", -1)) != seed or r.get("skipped") or not r.get("run_dir"):
            continue
        src_root = Path(r["run_dir"])
        for stage in ("pretrain", "finetune", "joint"):
            for name in PUBLISHED_FILES:
                src = src_root / stage / name
                if src.is_file() and src.stat().st_size <= max_bytes:
                    target = dest / r["arm"] / stage / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, target)
                    out.append(str(target))
    return out


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """The budget knobs shared by ``demo`` and ``ablate``."""
    p.add_argument("--quick", action="store_true",
                   help="ci-tiny sizes: tiny student, tiny random teachers, the committed sample set")
    p.add_argument("--epochs", type=int, default=0, help="pre-training epochs (default: the preset's)")
    p.add_argument("--finetune-epochs", type=int, default=0, help="fine-tuning epochs (default: the preset's)")
    p.add_argument("--batch-size", type=int, default=0, help="batch size of both stages")
    p.add_argument("--max-steps", type=int, default=0, help="cap on steps per epoch (0: whole epochs)")
    p.add_argument("--data-root", default="", help="SynthActions root (default: the preset's runs/synth)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="any config override, e.g. --set data.size=48 (repeatable)")
    p.add_argument("--teacher-size", type=int, default=-1,
                   help="teachers' input size in px: -1 (default) the clip size data.size, as sampled; "
                        "0 each teacher's own default (224 ImageNet Lite0, 112 SynthActions)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars (stage messages stay)")
