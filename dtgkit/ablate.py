"""``dtgkit ablate --suite NAME --seeds 3``: the paper's Tables 1-4 and the data-efficiency
claim, measured on SynthActions as mean ± std over seeds (Issue 7).

Every suite is a list of :class:`~dtgkit.experiments.Arm` run under one budget (the
``cpu-demo`` preset plus ``--epochs`` etc.; ``--quick``: ``ci-tiny`` with tiny random teachers)
by :func:`dtgkit.experiments.run_arms`, resumable per run. Results go to
``RESULTS/<suite>.csv`` (one row per arm and seed) and ``RESULTS/<suite>.md`` (mean ± std,
the budget, the wall time and the machine).

Suites (teacher roles: ``imagenet`` = EfficientNet-Lite0 ImageNet, ``scenes`` = Places
analogue, ``action_a`` / ``action_b`` = BU101 / Stanford40 analogues; see
:data:`dtgkit.experiments.TEACHER_ROLES`):

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
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dtgkit import experiments as X
from dtgkit.config import Config, validate
from dtgkit.models.students import accepts_2d_init

__all__ = [
    "CLAIMS",
    "SUITES",
    "ablation_config",
    "add_cli",
    "check_claims",
    "claims_markdown",
    "load_suite",
    "paired_difference",
    "plot_suite",
    "publish_run_files",
    "run_suite",
    "suite_arms",
    "verdict",
]

#: where ``dtgkit ablate`` writes its tables (relative to the repository root)
RESULTS = Path("notebooks/results")
#: files of one seed's runs copied next to the tables (``publish_run_files``), small enough to
#: commit: the figures of the notebooks and of ``dtgkit figures`` are drawn from them
PUBLISHED_FILES = ("metrics.jsonl", "results.json", "features_test.npz")

SUITES = ("table1", "table2", "table3", "table4", "efficiency")
SUITE_TITLES = {
    "table1": "Table 1 shape: initialisations and pre-training methods (fine-tuned on SynthActions)",
    "table2": "Table 2: input types of DTG-Net",
    "table3": "Table 3: differentiated teacher guidance",
    "table4": "Table 4: supervised DTG-Net (joint loss, Eq. 3) vs. supervised TSN",
    "efficiency": "Data efficiency: fraction of pre-training videos, and pre-training epochs",
}
SUITE_METRICS = {
    "table1": X.METRICS,
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
               imagenet_init: str = "") -> list[X.Arm]:
    """The arms of a suite (see the module docstring)."""
    T = teachers
    all_t = [T[r] for r in X.ROLE_ORDER]
    if suite == "table1":
        if imagenet_init:
            inet = X.Arm("imagenet-init", "ImageNet init (no video pre-training)", pretrain=None,
                         overrides=[f"model.init={imagenet_init}"])
        else:
            inet = X.Arm("imagenet-init", "ImageNet init (no video pre-training)", pretrain=None,
                         skip=f"no 2D ImageNet weights for student {base.model.student} offline "
                              "(only EfficientNet-Lite0's ship); pass --imagenet-init FILE")
        return [
            X.Arm("random-init", "Random init (no pre-training)", pretrain=None),
            inet,
            X.Arm("distinit-l1", "DistInit-L1 (ImageNet teacher)", pretrain="distinit-l1",
                  overrides=[_t([T["imagenet"]]), "dtg.weighting=uniform"]),
            X.Arm("moco", "MoCo-video", pretrain="moco"),
            X.Arm("dtg-imagenet", "DTG (ImageNet teacher)",
                  overrides=[_t([T["imagenet"]]), "dtg.weighting=uniform"]),
            X.Arm("dtg-all-offline", "DTG (all teachers, offline, teacher-kNN proxy)",
                  overrides=[_t(all_t), "dtg.weighting=offline"]),
        ]
    if suite == "table2":
        return [X.Arm(f"dtg-{mode}", f"DTG, {PAIR_LABELS[mode]}",
                      overrides=[_t([T["imagenet"]]), "dtg.weighting=uniform", f"data.pair_mode={mode}"],
                      info={"pair_mode": mode})
                for mode in ("img_img", "img_seq", "seq_seq_overlap", "seq_seq_disjoint")]
    if suite == "table3":
        arms = [X.Arm(f"single-{r}", f"{r} ({X.TEACHER_ROLES[r]['paper']} analogue)",
                      overrides=[_t([T[r]]), "dtg.weighting=uniform"], info={"teachers": r})
                for r in X.ROLE_ORDER]
        arms += [X.Arm("imagenet+scenes", "ImageNet + scenes, uniform",
                       overrides=[_t([T["imagenet"], T["scenes"]]), "dtg.weighting=uniform"]),
                 X.Arm("action_a+action_b", "both still-action teachers, uniform",
                       overrides=[_t([T["action_a"], T["action_b"]]), "dtg.weighting=uniform"])]
        for w in ("uniform", "offline", "online1", "online2"):
            arms.append(X.Arm(f"all-{w}", f"all teachers, {w}",
                              overrides=[_t(all_t), f"dtg.weighting={w}"],
                              offline_from=tuple(f"single-{r}" for r in X.ROLE_ORDER) if w == "offline" else (),
                              info={"weighting": w}))
        return arms
    if suite == "table4":
        can_init = accepts_2d_init(base.model.student)
        why = "" if can_init else f"student {base.model.student} cannot load a 2D init (model.init)"
        all_u = [_t(all_t), "dtg.weighting=uniform"]
        return [
            X.Arm("ssl-dtg", "(SSL) DTG pre-training, all teachers", overrides=all_u,
                  skip=why, info={"role": "pre-training for the SSL rows"}),
            X.Arm("sup-tsn", "supervised TSN (no DTG), random init", pretrain=None, supervised="none"),
            X.Arm("sup-dtg", "supervised DTG, random init", pretrain=None, supervised="dtg", overrides=all_u),
            X.Arm("ssl-sup-tsn", "supervised TSN (no DTG), DTG-pre-trained init", pretrain=None,
                  supervised="none", init_from="ssl-dtg", skip=why),
            X.Arm("ssl-sup-dtg", "supervised DTG, DTG-pre-trained init", pretrain=None, supervised="dtg",
                  overrides=all_u, init_from="ssl-dtg", skip=why),
        ]
    if suite == "efficiency":
        arms = []
        for frac in (0.1, 0.25, 0.5, 1.0):
            for method, label in (("dtg", "DTG (ImageNet teacher)"), ("moco", "MoCo-video")):
                ov = [_t([T["imagenet"]]), "dtg.weighting=uniform"] if method == "dtg" else []
                arms.append(X.Arm(f"{method}-frac{int(frac * 100)}", f"{label}, {int(frac * 100)}% videos",
                                  pretrain=method, overrides=ov, pretrain_overrides=[f"data.fraction={frac}"],
                                  info={"study": "fraction", "fraction": frac, "method": method,
                                        "pretrain_epochs": base.pretrain.epochs}))
        E = base.pretrain.epochs
        for ep in sorted({max(1, E // 4), max(1, E // 2)} - {E}):
            for method, label in (("dtg", "DTG (ImageNet teacher)"), ("moco", "MoCo-video")):
                ov = [_t([T["imagenet"]]), "dtg.weighting=uniform"] if method == "dtg" else []
                ms = [m for m in base.pretrain.milestones if m < ep]
                arms.append(X.Arm(f"{method}-ep{ep}", f"{label}, {ep} epoch{'s' if ep != 1 else ''}", pretrain=method, overrides=ov,
                                  pretrain_overrides=[f"pretrain.epochs={ep}", f"pretrain.milestones={ms}"],
                                  info={"study": "epochs", "fraction": 1.0, "method": method,
                                        "pretrain_epochs": ep}))
        return arms
    raise ValueError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}")


def ablation_config(args: argparse.Namespace) -> Config:
    """The budget (same knobs as ``dtgkit demo``); the default CPU budget logs every step
    (``run.log_every=1``, unless set) so that Figure 3 has a point per step of its short runs."""
    from dtgkit.demo import demo_config

    cfg = demo_config(args)
    if not getattr(args, "preset", "") and not any(o.replace(" ", "").startswith("run.log_every=") for o in args.overrides):
        cfg.run.log_every = 1
    return cfg


def run_suite(args: argparse.Namespace, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one suite for ``args.seeds`` seeds; write ``<results>/<suite>.csv`` and ``.md``."""
    def _say(msg: str) -> None:
        print(f"[ablate {args.suite} {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    say = say or _say
    mon = X.ResourceMonitor().start()
    cfg = ablation_config(args)
    out = Path(args.out) / args.suite
    if not args.quick and cfg.data.dataset == "synth":
        from dtgkit.data.synth import ensure_synth
        from dtgkit.demo import DEMO_SYNTH

        ensure_synth(cfg.data.root, progress=cfg.run.progress, **DEMO_SYNTH)
    from dtgkit.demo import teacher_size

    teachers = X.ensure_teachers(quick=args.quick, work_dir=Path(args.out) / "teachers",
                                 size=teacher_size(args, cfg), progress=cfg.run.progress, say=say)
    teachers.update(parse_teacher_roles(args.teacher))
    cfg.dtg.teachers = [teachers["imagenet"]]
    validate(cfg)
    arms = suite_arms(args.suite, teachers, cfg, imagenet_init=args.imagenet_init)
    seeds = list(range(args.seed0, args.seed0 + args.seeds))
    all_specs = [teachers[r] for r in X.ROLE_ORDER]

    def proxy(seed: int) -> dict[str, float]:
        c = cfg.copy()
        c.run.seed = seed
        return X.teacher_proxy_accuracies(c, all_specs, out, say=say)

    rows = X.run_arms(cfg, arms, out, seeds, offline_accs=proxy, say=say)
    for r in rows:
        r["suite"] = args.suite
    mon.stop()
    res = mon.summary()
    metrics = SUITE_METRICS[args.suite]
    summary = X.summarise(rows, metrics)
    results = Path(args.results)
    extra = ("pair_mode", "teachers", "weighting", "study", "fraction", "method", "pretrain_epochs", "reused")
    csv_path = X.write_csv(rows, results / f"{args.suite}.csv", extra_columns=extra)
    md = suite_markdown(args, cfg, rows, summary, metrics, teachers, res)
    md_path = results / f"{args.suite}.md"
    md_path.write_text(md, encoding="utf-8")
    published = publish_run_files(rows, results / "run_files" / args.suite, seed=args.seed0)
    say(f"wrote {csv_path} and {md_path}; {len(published)} files of the seed-{args.seed0} runs "
        f"copied to {results / 'run_files' / args.suite}")
    print(X.markdown_table(summary, metrics))
    return {"rows": rows, "summary": summary, "csv": csv_path, "md": str(md_path), "resources": res}


def parse_teacher_roles(items: list[str]) -> dict[str, str]:
    """``--teacher ROLE=SPEC`` values -> {role: spec}; roles are those of
    :data:`dtgkit.experiments.ROLE_ORDER` (imagenet, scenes, action_a, action_b)."""
    out = {}
    for item in items:
        role, sep, spec = item.partition("=")
        if not sep or not spec or role not in X.ROLE_ORDER:
            raise ValueError(f"--teacher {item!r}: expected ROLE=SPEC with ROLE one of "
                             f"{', '.join(X.ROLE_ORDER)}")
        out[role] = spec
    return out


def publish_run_files(rows: list[dict], dest: str | Path, *, seed: int = 0,
                      max_bytes: int = 400_000) -> list[str]:
    """Copy the small per-run files of one seed (:data:`PUBLISHED_FILES`, each at most
    ``max_bytes``) to ``dest/<arm>/<stage>/``, so the results folder holds the inputs of its
    figures (Figure 3's ``metrics.jsonl`` of the online1 run, Figure 4's ``features_test.npz`` of
    the supervised runs) after the git-ignored run folders are gone.

    Returns:
        the copied paths.
    """
    import shutil

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


def load_suite(suite: str, results: str | Path = RESULTS) -> tuple[list[dict], list[dict]]:
    """The per-seed rows and the mean ± std summary of ``<results>/<suite>.csv``.

    Raises:
        FileNotFoundError: the suite has not been run (the message says how to run it).
    """
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}")
    path = Path(results) / f"{suite}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `dtgkit ablate --suite {suite} --seeds 3 "
                                f"--results {results}`")
    rows = X.read_csv(path)
    return rows, X.summarise(rows, SUITE_METRICS[suite])


def _chance(run_files: Path) -> float | None:
    """100 / classes, read from a published ``results.json`` of the suite (None if none)."""
    for path in sorted(run_files.glob("*/*/results.json")):
        try:
            n = json.loads(path.read_text()).get("num_classes")
        except (OSError, ValueError):
            continue
        if n:
            return 100.0 / int(n)
    return None


def plot_suite(suite: str, results: str | Path = RESULTS, *, metrics=None):
    """A suite's results as a figure: grouped bars (mean, std over seeds as error bars) or, for
    ``efficiency``, fine-tune and kNN accuracy against the fraction of pre-training videos and
    against the pre-training epochs, DTG vs. MoCo-video (one line per method).

    Returns:
        matplotlib Figure.
    """
    import numpy as np

    rows, summary = load_suite(suite, results)
    n_seeds = len({r["seed"] for r in rows})
    title = f"{SUITE_TITLES[suite]} ({n_seeds} seed{'s' if n_seeds > 1 else ''})"
    chance = _chance(Path(results) / "run_files" / suite)
    if suite != "efficiency":
        shown = metrics or [m for m in SUITE_METRICS[suite] if m != "acc5"]
        return X.plot_accuracy_bars(summary, shown, title=title, chance=chance)
    from dtgkit.viz.plots import new_figure

    fig = new_figure(figsize=(10.0, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, study, col, xlabel in ((axes[0], "fraction", "fraction", "fraction of pre-training videos"),
                                   (axes[1], "epochs", "pretrain_epochs", "pre-training epochs")):
        for method, color in (("dtg", "tab:blue"), ("moco", "tab:orange")):
            sub = [r for r in _study_rows(rows, study) if r.get("method") == method and not r.get("skipped")]
            keys = sorted({_num(r[col]) for r in sub})
            for metric, ls in (("acc1", "-"), ("knn_acc1", ":")):
                vals = [[r[metric] for r in sub if _num(r[col]) == k and not np.isnan(r[metric])] for k in keys]
                mean = [np.mean(v) if v else np.nan for v in vals]
                std = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in vals]
                ax.errorbar(keys, mean, yerr=std, ls=ls, marker="o", color=color, capsize=3,
                            label=f"{'DTG' if method == 'dtg' else 'MoCo-video'} {X.METRIC_NAMES[metric]}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy (%)")
        if chance:
            ax.axhline(chance, color="0.3", ls="--", lw=1, label=f"chance ({chance:.0f}%)")
        ax.grid(alpha=0.3)
        if study == "fraction":
            ax.set_xscale("log")
            ax.set_xticks([0.1, 0.25, 0.5, 1.0], ["10%", "25%", "50%", "100%"])
        else:
            epochs = sorted({_num(r[col]) for r in rows if r.get(col) not in ("", None)})
            ax.set_xticks(epochs, [f"{e:g}" for e in epochs])
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


#: The paper's claims that the suites test: (suite, claim, the paper's numbers, arm A, arm B,
#: metric). A claim says A beats B on the metric.
CLAIMS = (
    ("table1", "DTG pre-training beats no pre-training", "Table 1: 58.8 vs. 40-50 acc@1 (UCF101)",
     "dtg-imagenet", "random-init", "acc1"),
    ("table1", "DTG beats DistInit-L1 (same ImageNet teacher)", "Sec. 3.3 / Table 1",
     "dtg-imagenet", "distinit-l1", "acc1"),
    ("table1", "DTG beats a teacher-free contrastive baseline (MoCo-video)",
     "Table 1: better than the video SSL methods", "dtg-imagenet", "moco", "acc1"),
    ("table2", "sequence inputs beat single images (seq/seq vs. img/img)", "Table 2: 58.76 vs. 57.73",
     "dtg-seq_seq_overlap", "dtg-img_img", "acc1"),
    ("table2", "overlapping sequences beat disjoint ones", "Table 2: 58.76 vs. 57.65",
     "dtg-seq_seq_overlap", "dtg-seq_seq_disjoint", "acc1"),
    ("table3", "offline weights beat uniform weights (all teachers)", "Table 3: 63.28 vs. 60.45",
     "all-offline", "all-uniform", "acc1"),
    ("table3", "offline weights beat online1", "Table 3: 63.28 vs. 61.59", "all-offline", "all-online1", "acc1"),
    ("table3", "online1 beats online2", "Table 3: 61.59 vs. 59.48", "all-online1", "all-online2", "acc1"),
    ("table3", "the still-action teachers beat the scene teacher", "Table 3: BU 62.01 vs. Places 49.96",
     "single-action_a", "single-scenes", "acc1"),
    ("table4", "supervised DTG beats supervised TSN (random init)", "Table 4: +3.6 acc@1 (UCF101)",
     "sup-dtg", "sup-tsn", "acc1"),
    ("table4", "supervised DTG beats supervised TSN (DTG-pre-trained init)", "Table 4: +3.6 acc@1",
     "ssl-sup-dtg", "ssl-sup-tsn", "acc1"),
    ("efficiency", "DTG on 25% of the videos matches MoCo-video on all of them",
     "abstract: fewer training videos", "dtg-frac25", "moco-frac100", "acc1"),
    ("efficiency", "DTG beats MoCo-video at 10% of the videos", "abstract: fewer training videos",
     "dtg-frac10", "moco-frac10", "acc1"),
)


def paired_difference(rows: list[dict], arm_a: str, arm_b: str, metric: str = "acc1") -> dict:
    """``arm_a - arm_b`` on ``metric`` per seed (seeds where both ran): mean, sample std, and
    how many seeds A won / lost / tied."""
    import math

    import numpy as np

    def by_seed(arm):
        return {r["seed"]: float(r[metric]) for r in rows if r["arm"] == arm and not r.get("skipped")
                and not math.isnan(float(r[metric]))}

    a, b = by_seed(arm_a), by_seed(arm_b)
    d = np.array([a[s] - b[s] for s in sorted(set(a) & set(b))], dtype=float)
    return {"n": len(d), "a": float(np.mean([a[s] for s in set(a) & set(b)])) if len(d) else float("nan"),
            "b": float(np.mean([b[s] for s in set(a) & set(b)])) if len(d) else float("nan"),
            "diff": float(d.mean()) if len(d) else float("nan"),
            "std": float(d.std(ddof=1)) if len(d) > 1 else 0.0,
            "wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "ties": int((d == 0).sum())}


def verdict(diff: dict, *, at_least_equal: bool = False) -> str:
    """``holds`` when A beat B in every seed (>= 2 seeds; ``at_least_equal``: ties count),
    ``contradicted`` when B beat A in every seed, else ``inconclusive`` (mixed seeds, one seed
    or no data). A deliberately strict rule: with 3 seeds and noisy small runs, a mean
    difference alone is not evidence."""
    n = diff["n"]
    if n < 2:
        return "inconclusive (one seed)" if n == 1 else "not run"
    good = diff["wins"] + (diff["ties"] if at_least_equal else 0)
    if good == n:
        return "holds"
    if diff["losses"] == n:
        return "contradicted"
    return "inconclusive"


def check_claims(results: str | Path = RESULTS, suites=SUITES) -> list[dict]:
    """Every claim of :data:`CLAIMS` whose suite has results, with its paired difference and
    :func:`verdict`."""
    out = []
    cache: dict[str, list[dict] | None] = {}
    for suite, claim, paper, a, b, metric in CLAIMS:
        if suite not in suites:
            continue
        if suite not in cache:
            try:
                cache[suite] = load_suite(suite, results)[0]
            except FileNotFoundError:
                cache[suite] = None
        if cache[suite] is None:
            continue
        d = paired_difference(cache[suite], a, b, metric)
        out.append({"suite": suite, "claim": claim, "paper": paper, "arm_a": a, "arm_b": b,
                    "metric": metric, **d,
                    "verdict": verdict(d, at_least_equal="matches" in claim)})
    return out


def claims_markdown(claims: list[dict]) -> str:
    """A markdown table of :func:`check_claims`."""
    lines = ["| suite | claim (A beats B) | paper | A | B | A - B (per-seed mean ± std) | seeds A won / lost / tied | verdict |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for c in claims:
        lines.append(f"| {c['suite']} | {c['claim']} | {c['paper']} | {c['a']:.2f} | {c['b']:.2f} | "
                     f"{c['diff']:+.2f} ± {c['std']:.2f} | {c['wins']} / {c['losses']} / {c['ties']} | "
                     f"**{c['verdict']}** |")
    return "\n".join(lines)


def suite_markdown(args: argparse.Namespace, cfg: Config, rows: list[dict], summary: list[dict],
                   metrics, teachers: dict[str, str], res: dict[str, Any]) -> str:
    """The ``<suite>.md`` text: title, table (mean ± std), budget, cost, machine, notes."""
    m = X.machine_info()
    seeds = sorted({r["seed"] for r in rows})
    run_s = sum(float(r.get(k) or 0) for r in rows for k in ("pretrain_s", "eval_s", "finetune_s"))
    run_cpu = sum(float(r.get(k) or 0) for r in rows for k in ("pretrain_cpu_s", "eval_cpu_s", "finetune_cpu_s"))
    reused = sum(1 for r in rows if r.get("reused"))
    lines = [f"# {SUITE_TITLES[args.suite]}", "",
             (f"SynthActions, {len(seeds)} seed(s) {seeds}; mean ± sample std over seeds, test split, percent. "
             "Per-seed rows: the CSV beside this file."), "",
             X.markdown_table(summary, metrics), ""]
    if args.suite == "efficiency":
        lines += _efficiency_tables(rows), ""
    lines += ["## Budget", "",
              (f"* preset `{cfg.preset}` + `dtgkit ablate {' '.join(_argv(args))}`; student "
              f"`{cfg.model.student}`, T = {cfg.data.num_segments}, {cfg.data.size} px; pre-training "
              f"{cfg.pretrain.epochs} epochs, batch {cfg.pretrain.batch_size}, lr {cfg.pretrain.lr}; "
              f"fine-tuning {cfg.finetune.epochs} epochs, batch {cfg.finetune.batch_size}, lr "
              f"{cfg.finetune.lr}; queue K = {cfg.dtg.queue_size}; data `{cfg.data.root}`"),
              "* teachers: " + ", ".join(f"{r} = `{teachers[r]}`" for r in X.ROLE_ORDER),
              (f"* wall time of this call {res['wall_s'] / 60:.1f} min (CPU {res['cpu_s']:.0f} s); sum of "
              f"the runs' stage times {run_s / 60:.1f} min, CPU {run_cpu / 60:.1f} min, i.e. about "
              f"{run_cpu / max(1, m['cpus']) / 60:.1f} min on {m['cpus']} idle CPUs (estimate); {reused} of "
              f"{len(rows)} runs re-used from earlier calls; peak memory {res['peak_tree_pss_mb']:.0f} MB PSS (process tree)"),
              (f"* machine: {m['cpus']} CPUs, torch {m['torch']} ({m['torch_threads']} threads), CUDA "
              f"{'yes' if m['cuda'] else 'no'}; load average {res['loadavg_start'][0]:.1f} -> "
              f"{res['loadavg_end'][0]:.1f} (above {m['cpus']}: the machine was shared)"), ""]
    notes = SUITE_NOTES.get(args.suite)
    if notes:
        lines += ["## Notes", "", notes, ""]
    return "\n".join(lines)


SUITE_NOTES = {
    "table1": "ImageNet-inflated init needs a 2D ImageNet state dict for the student "
              "(`--imagenet-init FILE`, e.g. torchvision's resnet18 weights); offline only "
              "EfficientNet-Lite0 ImageNet weights ship and they do not fit a ResNet, so without the "
              "file that row is skipped, not faked. The all-teacher DTG row's offline weights use the "
              "teacher-kNN proxy (see dtgkit.experiments).",
    "table2": "All rows use the TSN student and the ImageNet teacher; in the paper's img/seq row the "
              "student was a 3D-ResNet.",
    "table3": "Offline weights: softmax (percent, temperature 1) of the single-teacher rows' fine-tuned "
              "acc@1 of the same seed, the paper's procedure.",
    "table4": "Supervised runs use the fine-tuning schedule; alpha = 0.1, beta = 1.0 (Eq. 3). "
              "The SSL rows start from the student of the '(SSL) DTG pre-training' row of the same seed "
              "(the paper's SSL column, there UCF101 / Mini-Kinetics pre-training). The '(SSL) DTG "
              "pre-training' row is that student fine-tuned; it equals 'supervised TSN, DTG-pre-trained "
              "init' exactly, because joint training with `dtg.method=none` is the same computation as "
              "fine-tuning (same seed, init, data order): a consistency check of the two code paths.",
    "efficiency": "Fractions subsample the pre-training videos per class (seeded); fine-tuning always "
                  "uses the whole training split. Fewer videos at equal epochs also means fewer steps.",
}


def _num(v: Any) -> float:
    """A CSV cell or a row value as a float (NaN when empty)."""
    return float(v) if v not in ("", None) else float("nan")


def _study_rows(rows: list[dict], study: str) -> list[dict]:
    """The efficiency rows of one study (``fraction`` or ``epochs``); the epochs study also
    takes the all-videos rows, which ran all the epochs."""
    return [r for r in rows if r.get("study") == study or (study == "epochs" and _num(r.get("fraction")) == 1.0)]


def _efficiency_tables(rows: list[dict]) -> str:
    out = []
    for study, col, name in (("fraction", "fraction", "fraction of pre-training videos"),
                             ("epochs", "pretrain_epochs", "pre-training epochs")):
        sub = _study_rows(rows, study)
        if not sub:
            continue
        keys = sorted({float(r[col]) for r in sub})
        out += [f"Fine-tune acc@1 vs. {name}:", "", "| method | " + " | ".join(f"{k:g}" for k in keys) + " |",
                "|---|" + "---:|" * len(keys)]
        for method in ("dtg", "moco"):
            cells = []
            for k in keys:
                s = X.summarise([r for r in sub if r.get("method") == method and float(r[col]) == k], ("acc1",))
                cells.append(X.format_mean_std(s[0]["acc1_mean"], s[0]["acc1_std"], s[0]["n"]) if s else "-")
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _argv(args: argparse.Namespace) -> list[str]:
    out = ["--suite", args.suite, "--seeds", str(args.seeds)]
    if args.quick:
        out.append("--quick")
    for flag in ("epochs", "finetune_epochs", "batch_size", "max_steps"):
        v = getattr(args, flag)
        if v:
            out += [f"--{flag.replace('_', '-')}", str(v)]
    if getattr(args, "preset", ""):
        out += ["--preset", args.preset]
    for o in args.overrides:
        out += ["--set", o]
    for t in getattr(args, "teacher", []):
        out += ["--teacher", t]
    return out


def _cmd_ablate(args: argparse.Namespace) -> int:
    if args.claims:
        claims = check_claims(args.results)
        if not claims:
            raise FileNotFoundError(f"no suite results under {args.results}: run `dtgkit ablate --suite NAME`")
        md = claims_markdown(claims)
        path = Path(args.results) / "claims.md"
        path.write_text("# Which of the paper's claims hold on SynthActions\n\n" + md + "\n\n"
                        "Verdict: *holds* = A beat B in every seed; *contradicted* = B beat A in "
                        "every seed; *inconclusive* = mixed seeds (fine-tune acc@1, test split, %).\n",
                        encoding="utf-8")
        print(md)
        print(f"wrote {path}")
        return 0
    if not args.suite:
        raise ValueError("dtgkit ablate: give --suite NAME (or --claims)")
    res = run_suite(args)  # a non-finite loss stops with exit code 1 in dtgkit.cli.main
    print(json.dumps({"csv": res["csv"], "md": res["md"], **res["resources"]}, indent=1))
    return 0


def add_cli(subparsers) -> None:
    """Add ``dtgkit ablate``."""
    from dtgkit.demo import add_budget_args

    p = subparsers.add_parser(
        "ablate", help="the paper's ablations on SynthActions (mean ± std over seeds)",
        description="Run an ablation suite (table1, table2, table3, table4, efficiency) for several "
                    "seeds under one budget; writes RESULTS/<suite>.csv and .md. Re-running re-uses "
                    "finished runs.")
    p.add_argument("--suite", choices=SUITES, help="the suite to run")
    p.add_argument("--claims", action="store_true",
                   help="run nothing: check the paper's claims against the results files and write "
                        "RESULTS/claims.md")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument("--seed0", type=int, default=0, help="first seed (default 0)")
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
    p.set_defaults(func=_cmd_ablate)
