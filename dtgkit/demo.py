"""``dtgkit demo`` (``make demo``): DTG-Net against its baselines on SynthActions, one budget.

Steps, each re-using what an earlier call left (and saying so):

1. the SynthActions set (:data:`DEMO_SYNTH`, under ``data.root`` = ``runs/synth``) via
   :func:`dtgkit.data.synth.ensure_synth`;
2. the four teachers (ImageNet EfficientNet-Lite0 + three SynthActions teachers, trained from
   their still-image sets when not committed: :func:`dtgkit.experiments.ensure_teachers`);
3. offline teacher weights (Sec. 4.3.3). The paper takes them from single-teacher DTG runs;
   the demo's default ``--offline-source teacher-knn`` uses each teacher's frozen-feature kNN
   accuracy on the training split instead (cheap; see :mod:`dtgkit.experiments`).
   ``--offline-source single-runs`` runs the four single-teacher DTG arms first (4 more runs);
4. pre-training under the same budget (the ``cpu-demo`` preset: same student, data, epochs,
   batch): DTG (all teachers, offline weights), DistInit-L1 (same teachers), MoCo-video; plus
   the random-init student;
5. evaluating each: kNN and linear probe on frozen features, then fine-tuning;
6. ``OUT/report.md`` with the results table, the budget, wall / CPU time and peak memory, and
   figures beside it (loss curves, accuracy bars).

``--quick`` uses the ``ci-tiny`` preset, tiny random teachers and the committed sample set
(seconds; what the tests run).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from dtgkit import experiments as X
from dtgkit.config import Config, apply_overrides, get_preset, validate
from dtgkit.viz.plots import DPI

__all__ = ["DEMO_SYNTH", "add_cli", "demo_arms", "run_demo"]

#: the demo's SynthActions set: 10 classes, 6 groups of 4 clips per class (2 groups for test):
#: 160 training / 80 test videos
DEMO_SYNTH: dict[str, Any] = {"classes": 10, "videos_per_class": 24, "frames": 32, "size": 112,
                              "seed": 0, "stills_per_class": 0}
OFFLINE_SOURCES = ("teacher-knn", "single-runs")


def demo_arms(teachers: dict[str, str], offline_source: str = "teacher-knn") -> list[X.Arm]:
    """The demo's comparison (paper Table 1's shape): random init, DistInit-L1, MoCo-video and
    DTG with all teachers and offline weights (plus the single-teacher DTG arms when the offline
    weights come from them)."""
    specs = [teachers[r] for r in X.ROLE_ORDER if r in teachers]
    all_t = "dtg.teachers=[" + ",".join(specs) + "]"
    arms = [X.Arm("random-init", "Random init (no pre-training)", pretrain=None),
            X.Arm("distinit-l1", "DistInit-L1 (all teachers)", pretrain="distinit-l1",
                  overrides=[all_t, "dtg.weighting=uniform"]),
            X.Arm("moco", "MoCo-video", pretrain="moco")]
    singles: tuple[str, ...] = ()
    if offline_source == "single-runs":
        for role in X.ROLE_ORDER:
            if role in teachers:
                arms.append(X.Arm(f"dtg-{role}", f"DTG ({role} teacher)",
                                  overrides=[f"dtg.teachers=[{teachers[role]}]", "dtg.weighting=uniform"]))
        singles = tuple(a.key for a in arms[3:])
    arms.append(X.Arm("dtg-all-offline", "DTG (all teachers, offline weights)",
                      overrides=[all_t, "dtg.weighting=offline"], offline_from=singles))
    return arms


def demo_config(args: argparse.Namespace) -> Config:
    """The budget: ``cpu-demo`` (or ``ci-tiny`` with ``--quick``, or ``--preset`` where the
    command has it) plus the budget knobs."""
    cfg = get_preset(getattr(args, "preset", "") or ("ci-tiny" if args.quick else "cpu-demo"))
    if args.quick and not args.data_root:
        from dtgkit.data.synth import sample_root

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
    return cfg


def teacher_size(args: argparse.Namespace, cfg: Config) -> int | None:
    """Input size of the teachers: ``--teacher-size`` (-1: the clip size ``data.size``; 0: each
    teacher's own default, 224 px for ImageNet Lite0 and 112 px for the SynthActions ones)."""
    size = getattr(args, "teacher_size", -1)
    return cfg.data.size if size < 0 else (size or None)


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Run the demo (see the module docstring); returns the rows, summary and report path."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_lines: list[str] = []

    def say(msg: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[demo {stamp}] {msg}", flush=True)
        log_lines.append(msg)

    mon = X.ResourceMonitor().start()
    cfg = demo_config(args)
    say(f"budget: preset {cfg.preset}, student {cfg.model.student}, T={cfg.data.num_segments}, "
        f"{cfg.data.size} px, pre-train {cfg.pretrain.epochs} epochs, fine-tune {cfg.finetune.epochs} "
        f"epochs, batch {cfg.pretrain.batch_size}, seed {args.seed}")

    # 1. data
    synth = None
    if not args.quick and cfg.data.dataset == "synth":
        from dtgkit.data.synth import ensure_synth

        t0 = time.perf_counter()
        synth = ensure_synth(cfg.data.root, progress=cfg.run.progress, workers=args.workers,
                             **DEMO_SYNTH)
        say(f"SynthActions at {cfg.data.root}: {synth['train']} training / {synth['test']} test "
            f"videos ({'re-used' if synth['cached'] else f'generated in {time.perf_counter() - t0:.0f} s'})")
    # 2. teachers
    teachers = X.ensure_teachers(quick=args.quick, work_dir=out.parent / "teachers",
                                 size=teacher_size(args, cfg), progress=cfg.run.progress, say=say)
    cfg.dtg.teachers = [teachers[r] for r in X.ROLE_ORDER]
    validate(cfg)
    # 3.-5. arms
    arms = demo_arms(teachers, args.offline_source)
    proxy: dict[str, float] = {}

    def offline_accs(seed: int) -> dict[str, float]:
        c = cfg.copy()
        c.run.seed = seed
        proxy.update(X.teacher_proxy_accuracies(c, cfg.dtg.teachers, out, say=say))
        return proxy

    rows = X.run_arms(cfg, arms, out, [args.seed], offline_accs=offline_accs, say=say)
    for r in rows:
        r["suite"] = "demo"
    summary = X.summarise(rows)
    mon.stop()
    report = write_report(out, cfg, args, rows, summary, teachers, proxy, mon.summary(), synth)
    say(f"report: {report}")
    print(X.markdown_table(summary))
    return {"rows": rows, "summary": summary, "report": report, "resources": mon.summary()}


def write_report(out: Path, cfg: Config, args: argparse.Namespace, rows: list[dict], summary: list[dict],
                 teachers: dict[str, str], proxy: dict[str, float], res: dict[str, Any],
                 synth: dict | None) -> str:
    """``out/report.md`` plus ``loss_curves_pretrain.png``, ``loss_curves_finetune.png``,
    ``accuracy.png`` and ``results.csv`` / ``resources.json`` beside it."""
    figs = {}
    pre = {r["label"]: Path(r["run_dir"]) / "pretrain" for r in rows
           if r.get("run_dir") and (Path(r["run_dir"]) / "pretrain").is_dir()}
    ft = {r["label"]: Path(r["run_dir"]) / "finetune" for r in rows
          if r.get("run_dir") and (Path(r["run_dir"]) / "finetune").is_dir()}
    for name, fig in (("loss_curves_pretrain.png", X.plot_loss_curves(pre, title="pre-training loss")),
                      ("loss_curves_finetune.png", X.plot_loss_curves(ft, title="fine-tuning loss (CE)")),
                      ("accuracy.png", X.plot_accuracy_bars(summary, title=f"SynthActions, seed {args.seed}"))):
        fig.savefig(out / name, dpi=DPI)
        figs[name] = name
    X.write_csv(rows, out / "results.csv")
    (out / "resources.json").write_text(json.dumps(res, indent=1) + "\n")
    m = X.machine_info()
    reused = [r["label"] for r in rows if r.get("reused")]
    dtg_row = next((r for r in rows if r["arm"] == "dtg-all-offline"), {})
    budget = (f"Seed **{args.seed}**. Every method has the same budget: preset `{cfg.preset}`, student "
              f"`{cfg.model.student}`, T = {cfg.data.num_segments} segments at {cfg.data.size} px, "
              f"pre-training {cfg.pretrain.epochs} epochs (batch {cfg.pretrain.batch_size}, lr "
              f"{cfg.pretrain.lr}), fine-tuning {cfg.finetune.epochs} epochs (batch "
              f"{cfg.finetune.batch_size}, lr {cfg.finetune.lr}), queue K = {cfg.dtg.queue_size}, "
              f"tau = {cfg.dtg.tau}. DistInit-L1 fits the same teachers as DTG (uniform weights).")
    noisy = ("The numbers are whatever these runs gave; with one seed and a few epochs they are noisy "
             "(see `dtgkit ablate --suite table1 --seeds 3` for mean ± std).")
    evals = ("kNN: cosine, k = 200, tau = 0.1 on frozen student features (training split as the bank); "
             "linear probe: logistic regression on frozen, L2-normalised features; fine-tune: student + "
             "classifier trained on the training split's labels, video-level test metrics.")
    lines = ["# dtgkit demo: DTG-Net vs. baselines on SynthActions", "", budget, noisy, "",
             "## Results (test split; percent)", "", X.markdown_table(summary), "", evals, "",
             "## Data", ""]
    if synth:
        lines.append(f"SynthActions at `{cfg.data.root}` ({synth['train']} training / {synth['test']} "
                     f"test videos, {len(synth['classes'])} classes, params `{json.dumps(DEMO_SYNTH)}`).")
    else:
        lines.append(f"`{cfg.data.dataset}` at `{cfg.data.root}`.")
    lines += ["", "## Teachers", "", "| role | paper's task | spec | offline proxy acc (%) | weight |",
              "|---|---|---|---:|---:|"]
    weights = dtg_row.get("offline_weights") or []
    for i, role in enumerate(X.ROLE_ORDER):
        spec = teachers[role]
        acc = proxy.get(spec)
        w = weights[i] if i < len(weights) else None
        lines.append(f"| {role} | {X.TEACHER_ROLES[role]['paper']} | `{spec}` | "
                     f"{'-' if acc is None else f'{acc:.2f}'} | {'-' if w is None else f'{w:.3g}'} |")
    if args.offline_source == "teacher-knn":
        offline_note = (
            "**Offline weights use a proxy, not the paper's procedure.** The paper's offline weights "
            "are a softmax over the top-1 accuracies of single-teacher DTG runs (Sec. 4.3.3). Within "
            "the demo budget each teacher's accuracy is instead its own frozen-feature kNN accuracy on "
            "the *training* split (leave-one-group-out, cosine, k = 200; no test label is read), "
            "softmaxed in percent with temperature 1 as in the paper. Run "
            "`dtgkit demo --offline-source single-runs` for the paper's procedure (four more "
            "pre-training runs).")
    else:
        offline_note = ("Offline weights: softmax (percent, temperature 1) of the fine-tuned acc@1 of "
                        "the single-teacher DTG runs above (the paper's procedure, Sec. 4.3.3).")
    lines += ["", offline_note]
    wall = (f"* wall time **{res['wall_s'] / 60:.1f} min** ({res['wall_s']:.0f} s); CPU time "
            f"{res['cpu_s']:.0f} s (user + system, process and finished children), i.e. about "
            f"{res['cpu_s'] / max(1, m['cpus']) / 60:.1f} min of wall time if the {m['cpus']} CPUs "
            f"had been ours alone (an estimate, not a measurement)")
    memory = (f"* peak memory: **{res['peak_tree_pss_mb']:.0f} MB PSS** summed over the process tree "
              f"(sampled every 0.5 s; the RSS sum, {res['peak_tree_rss_mb']:.0f} MB, counts pages "
              f"shared by forked workers once per process); getrusage peak RSS: main process "
              f"{res['peak_rss_self_mb']:.0f} MB, largest child {res['peak_rss_children_mb']:.0f} MB")
    machine = (f"* machine: {m['cpus']} CPUs, torch {m['torch']} with {m['torch_threads']} threads, "
               f"CUDA {'yes' if m['cuda'] else 'no'}, {m['platform']}; load average "
               f"{res['loadavg_start'][0]:.1f} at the start, {res['loadavg_end'][0]:.1f} at the end "
               f"(a load above the CPU count means other work shared the machine and the wall times "
               f"are longer than on an idle one)")
    lines += ["", "## Cost", "", wall, memory, machine]
    if reused:
        lines.append(f"* re-used finished runs (their time is not in the wall time above): "
                     f"{', '.join(reused)}")
    stages = ("Per-stage wall / CPU seconds (CPU: user + system of the process and its finished "
              "children; from this call, or from the call that produced a re-used run):")
    lines += ["", stages, "", "| method | pre-train s | frozen eval s | fine-tune s |",
              "|---|---:|---:|---:|"]
    for r in rows:
        cells = []
        for k in ("pretrain_s", "eval_s", "finetune_s"):
            w_s, c_s = r.get(k), r.get(k.replace("_s", "_cpu_s"))
            ok = isinstance(w_s, (int, float)) and isinstance(c_s, (int, float))
            cells.append(f"{w_s:.0f} / {c_s:.0f}" if ok else str(w_s if w_s is not None else "-"))
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    curves = ("Pre-training losses are each method's own objective (InfoNCE for DTG and MoCo, L1 for "
              "DistInit), divided by the first logged value.")
    folders = ", ".join(f"`{r['run_dir']}`" for r in rows if r.get("run_dir"))
    lines += ["", "## Figures", "", "![pre-training loss](loss_curves_pretrain.png)", "", curves, "",
              "![fine-tuning loss](loss_curves_finetune.png)", "", "![accuracy](accuracy.png)", "",
              "## Reproduce", "", "```", "dtgkit " + " ".join(_argv_of(args)), "```", "",
              f"Run folders (configs, `metrics.jsonl`, checkpoints, `results.json`): {folders}.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


def _argv_of(args: argparse.Namespace) -> list[str]:
    out = ["demo", "--out", str(args.out), "--seed", str(args.seed)]
    if args.quick:
        out.append("--quick")
    for flag in ("epochs", "finetune_epochs", "batch_size", "max_steps", "data_root"):
        v = getattr(args, flag)
        if v:
            out += [f"--{flag.replace('_', '-')}", str(v)]
    if args.teacher_size != -1:
        out += ["--teacher-size", str(args.teacher_size)]
    if args.offline_source != "teacher-knn":
        out += ["--offline-source", args.offline_source]
    for o in args.overrides:
        out += ["--set", o]
    return out


def _cmd_demo(args: argparse.Namespace) -> int:
    res = run_demo(args)  # a non-finite loss stops with exit code 1 in dtgkit.cli.main
    r = res["resources"]
    print(f"demo finished in {r['wall_s'] / 60:.1f} min, peak memory {r['peak_tree_pss_mb']:.0f} MB "
          f"(PSS, process tree); report: {res['report']}")
    return 0


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


def add_cli(subparsers) -> None:
    """Add ``dtgkit demo``."""
    p = subparsers.add_parser(
        "demo", help="DTG-Net vs. baselines on SynthActions under one budget; writes a report",
        description="Make SynthActions and the teachers if missing, pre-train DTG (all teachers, "
                    "offline weights), DistInit-L1 and MoCo-video under the same budget, evaluate "
                    "each with the random-init student (kNN, linear probe, fine-tune) and write "
                    "OUT/report.md. Re-running re-uses finished runs.")
    p.add_argument("--out", default="runs/demo", help="output folder (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="run.seed of every run (default 0)")
    p.add_argument("--offline-source", choices=OFFLINE_SOURCES, default="teacher-knn",
                   help="where the offline teacher weights' accuracies come from: the teachers' "
                        "frozen-feature kNN accuracy on the training split (cheap proxy, default) "
                        "or single-teacher DTG runs (the paper's procedure, 4 more runs)")
    p.add_argument("--workers", type=int, default=None, help="processes for generating SynthActions")
    add_budget_args(p)
    p.set_defaults(func=_cmd_demo)
