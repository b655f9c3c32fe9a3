"""The experiments runner, ``dtgkit demo --quick`` and ``dtgkit ablate`` at ci-tiny sizes."""
from __future__ import annotations

import argparse
import csv
import math

import numpy as np
import pytest

from dtgkit import experiments as X


@pytest.fixture(scope="session")
def exp_synth_root(tmp_path_factory):
    """3 classes x 8 clips, 8 frames at 32 px: 18 training / 6 test videos."""
    from dtgkit.data.synth import generate_synth_actions

    root = tmp_path_factory.mktemp("exp_synth")
    generate_synth_actions(root, classes=3, videos_per_class=8, clips_per_group=2, test_groups=1,
                           frames=8, size=32, stills_per_class=0, progress=False)
    return root


def _parse(argv: list[str]) -> argparse.Namespace:
    from dtgkit import ablate, demo

    parser = argparse.ArgumentParser(prog="dtgkit")
    sub = parser.add_subparsers(dest="command")
    demo.add_cli(sub)
    ablate.add_cli(sub)
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------ pure parts
def test_summarise_markdown_and_csv(tmp_path):
    rows = [{"arm": "a", "label": "A", "seed": s, "acc1": v, "acc5": 90.0, "suite_index": 0, "skipped": ""}
            for s, v in enumerate([60.0, 62.0, 64.0])]
    rows.append({"arm": "b", "label": "B", "seed": 0, "suite_index": 1, "skipped": "no weights"})
    summary = X.summarise(rows, ("acc1", "acc5"))
    assert summary[0]["acc1_mean"] == pytest.approx(62.0)
    assert summary[0]["acc1_std"] == pytest.approx(2.0)  # sample std
    assert summary[1]["n"] == 0 and summary[1]["skipped"] == "no weights"
    md = X.markdown_table(summary, ("acc1", "acc5"))
    assert "| A | 62.00 ± 2.00 | 90.00 ± 0.00 | 3 |" in md
    assert "skipped: no weights" in md
    path = X.write_csv(rows, tmp_path / "t.csv")
    back = X.read_csv(path)
    assert [r["arm"] for r in back] == ["a", "a", "a", "b"]
    assert back[1]["acc1"] == pytest.approx(62.0) and math.isnan(back[3]["acc1"])
    assert X.summarise(back, ("acc1",))[0]["acc1_mean"] == pytest.approx(62.0)
    assert X.format_mean_std(float("nan"), 0.0, 1) == "-"


def test_resource_monitor_measures():
    with X.ResourceMonitor(interval=0.05) as mon:
        sum(i * i for i in range(200_000))
    s = mon.summary()
    assert s["wall_s"] >= 0 and s["cpu_s"] >= 0
    assert s["peak_rss_self_mb"] > 10


# ------------------------------------------------------------------------------ end to end
def test_demo_quick_writes_report_and_resumes(exp_synth_root, tmp_path, capsys):
    from dtgkit.demo import run_demo
    from dtgkit.metrics import binomial_se

    out = tmp_path / "demo"
    argv = ["demo", "--quick", "--out", str(out), "--data-root", str(exp_synth_root), "--epochs", "1",
            "--finetune-epochs", "1", "--max-steps", "2", "--no-progress"]
    res = run_demo(_parse(argv))
    report = (out / "report.md").read_text()
    assert "| method | kNN acc@1 | linear acc@1 | fine-tune acc@1 |" in report
    for label in ("Random init", "DistInit-L1", "MoCo-video", "DTG (all teachers, offline weights)"):
        assert label in report
    assert "peak memory" in report and "wall time" in report and "Seed **0**" in report
    assert "proxy" in report  # the offline-weight proxy is declared
    # one seed: each accuracy with the test set's binomial error on its 6 test videos
    assert "binomial standard error on the 6 test videos" in report
    dtg_line = next(line for line in report.splitlines() if line.startswith("| DTG (all teachers"))
    acc1 = next(r for r in res["rows"] if r["arm"] == "dtg-all-offline")["acc1"]
    assert f"{acc1:.2f} ± {binomial_se(acc1, 6):.2f}" in dtg_line
    for png in ("accuracy.png", "loss_curves_pretrain.png", "loss_curves_finetune.png"):
        assert (out / png).stat().st_size > 1000
    rows = res["rows"]
    assert len(rows) == 4 and all(0 <= r["acc1"] <= 100 for r in rows)
    dtg = next(r for r in rows if r["arm"] == "dtg-all-offline")
    assert len(dtg["offline_weights"]) == 4 and sum(dtg["offline_weights"]) == pytest.approx(1.0)
    with open(out / "results.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 4
    capsys.readouterr()

    again = run_demo(_parse(argv))  # everything re-used, nothing retrained
    printed = capsys.readouterr().out
    assert printed.count("re-using row.json") == 4
    assert all(r.get("reused") for r in again["rows"])
    assert [r["acc1"] for r in again["rows"]] == [r["acc1"] for r in rows]


def test_ablate_quick_resumable_with_skips(exp_synth_root, tmp_path, capsys):
    from dtgkit.ablate import run_ablation

    results = tmp_path / "results"
    argv = ["ablate", "--suite", "table4", "--seeds", "2", "--quick", "--out", str(tmp_path / "runs"),
            "--results", str(results), "--data-root", str(exp_synth_root), "--finetune-epochs", "1",
            "--max-steps", "2", "--no-progress"]
    res = run_ablation(_parse(argv))
    rows = res["rows"]
    assert len(rows) == 10  # 5 arms x 2 seeds
    ran = [r for r in rows if not r["skipped"]]
    assert {r["arm"] for r in ran} == {"sup-tsn", "sup-dtg"}  # the tiny student takes no 2D init
    assert all("cannot load a 2D init" in r["skipped"] for r in rows if r["skipped"])
    with open(results / "table4.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 10 and {"seed", "acc1", "acc5", "mAP", "skipped"} <= set(table[0])
    md = (results / "table4.md").read_text()
    assert " ± " in md and "## Budget" in md and "wall time" in md and "machine:" in md
    # seed 0's small run files are published next to the tables (Figure 4's inputs)
    for arm in ("sup-tsn", "sup-dtg"):
        d = results / "run_files" / "table4" / arm / "joint"
        assert {"metrics.jsonl", "results.json", "features_test.npz"} <= {f.name for f in d.iterdir()}
        feats = np.load(d / "features_test.npz")
        assert feats["feats"].shape[0] == len(feats["labels"]) == 6
    assert not (results / "run_files" / "table4" / "sup-tsn-seed1").exists()
    capsys.readouterr()

    run_ablation(_parse(argv))
    printed = capsys.readouterr().out
    assert printed.count("re-using row.json") == 4
    assert "] supervised run" not in printed and "] pre-training (" not in printed

    from dtgkit.experiments.report import load_suite, plot_suite

    rows2, summary = load_suite("table4", results)
    assert len(rows2) == 10 and [s["arm"] for s in summary][:3] == ["ssl-dtg", "sup-tsn", "sup-dtg"]
    assert summary[1]["n"] == 2 and summary[0]["n"] == 0
    fig = plot_suite("table4", results)
    heights = [b.get_height() for b in fig.axes[0].patches]
    assert len(heights) == 2 * 2  # two arms ran, acc1 and mAP bars
    assert sorted(heights) == pytest.approx(sorted(
        [summary[i][f"{m}_mean"] for i in (1, 2) for m in ("acc1", "mAP")]))
    with pytest.raises(FileNotFoundError, match="dtgkit ablate --suite table2"):
        load_suite("table2", results)


def test_run_arm_reuses_a_finished_twin_of_another_suite(exp_synth_root, tmp_path, capsys):
    from dtgkit.experiments.suites import budget_config

    cfg = budget_config(_parse(["ablate", "--suite", "table1", "--quick", "--data-root",
                                str(exp_synth_root), "--finetune-epochs", "1", "--max-steps", "1",
                                "--no-progress"]), "table1")
    first = X.run_arm(cfg, X.Arm("random-init", "Random init", pretrain=None),
                      tmp_path / "runs" / "table1", 0)
    twin = X.run_arm(cfg, X.Arm("baseline", "No pre-training", pretrain=None, info={"study": "x"}),
                     tmp_path / "runs" / "efficiency", 0)
    assert twin["reused"] and twin["arm"] == "baseline" and twin["label"] == "No pre-training"
    assert twin["study"] == "x" and twin["acc1"] == first["acc1"]
    assert "table1/random-init" in capsys.readouterr().out.split("re-using")[0]
    other_seed = X.run_arm(cfg, X.Arm("baseline", "No pre-training", pretrain=None),
                           tmp_path / "runs" / "efficiency", 1)
    assert not other_seed.get("reused")


def test_suites_build_their_arms():
    from dtgkit.config import get_preset
    from dtgkit.experiments.suites import SUITES, suite_arms

    teachers = X.ensure_teachers(quick=True)
    base = get_preset("cpu-demo")
    n = {s: len(suite_arms(s, teachers, base)) for s in SUITES}
    assert n["table1"] == 6 and n["table2"] == 4 and n["table3"] == 10 and n["table4"] == 5
    assert n["efficiency"] == 8 + 2 * len({max(1, base.pretrain.epochs // 4), max(1, base.pretrain.epochs // 2)}
                                           - {base.pretrain.epochs})
    t1 = suite_arms("table1", teachers, base)
    assert "imagenet-init" in [a.key for a in t1 if a.skip]  # no offline ImageNet ResNet weights
    t3 = {a.key: a for a in suite_arms("table3", teachers, base)}
    assert t3["all-offline"].offline_from == ("single-imagenet", "single-scenes", "single-action_a",
                                              "single-action_b")


def test_claims_are_checked_per_seed(tmp_path):
    from dtgkit.experiments.report import check_claims, claims_markdown, paired_difference, verdict

    def row(arm, seed, acc1):
        return {"suite": "table2", "arm": arm, "label": arm, "seed": seed, "acc1": acc1}

    rows = [row("dtg-seq_seq_overlap", s, v) for s, v in enumerate([30.0, 25.0, 40.0])]
    rows += [row("dtg-img_img", s, v) for s, v in enumerate([20.0, 25.0, 35.0])]
    rows += [row("dtg-seq_seq_disjoint", s, v) for s, v in enumerate([10.0, 20.0, 30.0])]
    X.write_csv(rows, tmp_path / "table2.csv")
    d = paired_difference(X.read_csv(tmp_path / "table2.csv"), "dtg-seq_seq_overlap", "dtg-img_img")
    assert (d["n"], d["wins"], d["losses"], d["ties"]) == (3, 2, 0, 1)
    assert d["diff"] == pytest.approx(5.0) and d["std"] == pytest.approx(5.0)
    assert verdict(d) == "inconclusive" and verdict(d, at_least_equal=True) == "holds"
    claims = check_claims(tmp_path)
    assert [c["suite"] for c in claims] == ["table2", "table2"]  # the other suites have no results
    assert [c["verdict"] for c in claims] == ["inconclusive", "holds"]
    assert "**holds**" in claims_markdown(claims)
    one = paired_difference([row("a", 0, 1.0), row("b", 0, 0.0)], "a", "b")
    assert verdict(one) == "inconclusive (one seed)"
    # two seeds won by a wide margin are not enough (no effect: two seeds agree half the time)
    two = paired_difference([row("a", s, 60.0) for s in (0, 1)] + [row("b", s, 40.0) for s in (0, 1)], "a", "b")
    assert (two["wins"], verdict(two)) == (2, "inconclusive (2 seeds; 3 needed)")
    assert verdict(paired_difference([], "a", "b")) == "not run"
    from dtgkit.cli import main

    assert main(["ablate", "--claims", "--results", str(tmp_path)]) == 0
    assert "| table2 | overlapping sequences beat disjoint ones |" in (tmp_path / "claims.md").read_text()
    assert main(["ablate", "--claims", "--results", str(tmp_path / "none")]) != 0
    assert main(["ablate", "--claims", "--claims-metrics", "top1", "--results", str(tmp_path)]) != 0
    assert main(["ablate", "--claims", "--claims-metrics", "acc1,knn_acc1", "--results", str(tmp_path)]) == 0
    assert "| knn_acc1 |" in (tmp_path / "claims.md").read_text()


def test_claims_weigh_the_test_set_size():
    """With the test-set size recorded (``test_n``), a claim won in every seed but by less than
    twice the test set's binomial error is not called: more seeds do not shrink that error."""
    from dtgkit.experiments.report import claims_markdown, paired_difference, verdict

    def rows(gap, n=512):
        return ([{"arm": "a", "seed": s, "acc1": 50.0 + gap + s, "test_n": n} for s in range(3)]
                + [{"arm": "b", "seed": s, "acc1": 50.0 + s, "test_n": n} for s in range(3)])

    small = paired_difference(rows(1.0), "a", "b")
    # sqrt(2 x 0.5 x 0.5 / 512) at pA ~ pB ~ 51 %: 3.12 points
    assert small["se_test"] == pytest.approx(100 * (0.51 * 0.49 / 512 + 0.52 * 0.48 / 512) ** 0.5, rel=1e-3)
    assert small["wins"] == 3 and small["ci95"] == 0.0
    assert verdict(small) == "inconclusive (within the test set's error)"
    assert verdict(paired_difference(rows(7.0), "a", "b")) == "holds"
    assert verdict(paired_difference(rows(-7.0), "a", "b")) == "contradicted"
    assert verdict(paired_difference(rows(0.0), "a", "b"), at_least_equal=True) == "holds"  # ties
    assert verdict(paired_difference(rows(-1.0), "a", "b"), at_least_equal=True).startswith("inconclusive (")
    no_n = paired_difference([{**r, "test_n": ""} for r in rows(1.0)], "a", "b")
    assert math.isnan(no_n["se_test"]) and verdict(no_n) == "holds"  # the seeds-only rule
    md = claims_markdown([{"suite": "table1", "claim": "c", "paper": "p", "metric": "knn_acc1",
                           **small, "verdict": verdict(small)}])
    assert "| knn_acc1 |" in md and "± 6.2" in md  # 2 SE shown


def test_ablate_teacher_roles_and_preset_flags():
    from dtgkit.experiments.suites import budget_config
    from dtgkit.experiments.teachers import parse_teacher_roles

    assert parse_teacher_roles(["scenes=places365:resnet18@/w.pth", "imagenet=tiny"]) == {
        "scenes": "places365:resnet18@/w.pth", "imagenet": "tiny"}
    for bad in (["scenes"], ["objects=tiny"], ["scenes="]):
        with pytest.raises(ValueError, match="ROLE=SPEC"):
            parse_teacher_roles(bad)
    cfg = budget_config(_parse(["ablate", "--suite", "table3", "--preset", "paper-ucf101-tsn-r18",
                                "--set", "data.root=/data/ucf101"]), "table3")
    assert cfg.preset == "paper-ucf101-tsn-r18" and cfg.pretrain.epochs == 600
    assert cfg.data.root == "/data/ucf101" and cfg.run.log_every == 10  # the preset's


def test_the_demo_is_a_suite():
    from dtgkit.config import get_preset
    from dtgkit.experiments.suites import suite_arms

    teachers = X.ensure_teachers(quick=True)
    arms = suite_arms("demo", teachers, get_preset("cpu-demo"))
    assert [a.key for a in arms] == ["random-init", "distinit-l1", "moco", "dtg-all-offline"]
    singles = suite_arms("demo", teachers, get_preset("cpu-demo"), offline_source="single-runs")
    assert singles[-1].offline_from == ("dtg-imagenet", "dtg-scenes", "dtg-action_a", "dtg-action_b")


def test_options_added_later_keep_the_hashes_of_recorded_runs():
    """Keys added after runs were recorded (clip cache, lr schedule, DistInit's L1 reduction,
    cache frame stride) leave a config's hash unchanged while at their defaults, so the
    committed results keep their run folders (tests/test_run_hashes.py recomputes committed
    arms' hashes); set, they make another run."""
    from dtgkit.config import apply_overrides, get_preset
    from dtgkit.experiments import config_hash

    base = get_preset("cpu-demo")
    old = base.to_dict()
    for sec, key in (("data", "clip_cache"), ("dtg", "distinit_l1_dims"),
                     ("dtg", "cache_frame_stride"), ("pretrain", "schedule"),
                     ("finetune", "schedule")):
        del old[sec][key]  # a config dict written before these keys existed
    # config dicts hashed beside a config (a run's stage configs) are cleaned like the config
    assert config_hash(base, old) == config_hash(base, base.to_dict())
    for item in ("pretrain.schedule=cosine", "data.clip_cache=runs/cc",
                 "dtg.distinit_l1_dims=sum", "dtg.cache_frame_stride=4"):
        assert config_hash(apply_overrides(base, [item])) != config_hash(base), item


# ------------------------------------------------------------------------------ the labs' live row
def test_committed_budget_is_read_from_the_suite_markdown(tmp_path):
    from dtgkit.experiments.report import RESULTS, committed_budget
    from dtgkit.experiments.suites import parse_suite_args

    argv = committed_budget("table2", RESULTS)
    assert argv[:2] == ["--suite", "table2"]
    assert parse_suite_args(argv).suite == "table2"
    (tmp_path / "table1.md").write_text("# Table 1\n\nno budget here\n")
    with pytest.raises(ValueError, match="no budget line"):
        committed_budget("table1", tmp_path)
    with pytest.raises(FileNotFoundError, match="dtgkit ablate --suite table3"):
        committed_budget("table3", tmp_path)


def test_select_arms_takes_what_an_arm_needs():
    from dtgkit.config import get_preset
    from dtgkit.experiments.suites import select_arms, suite_arms

    arms = suite_arms("table3", X.ensure_teachers(quick=True), get_preset("cpu-demo"))
    assert select_arms(arms) == arms
    assert [a.key for a in select_arms(arms, ["all-uniform"])] == ["all-uniform"]
    assert [a.key for a in select_arms(arms, ["all-offline"])] == [
        "single-imagenet", "single-scenes", "single-action_a", "single-action_b", "all-offline"]
    with pytest.raises(ValueError, match="unknown arm"):
        select_arms(arms, ["nope"])


def test_rerun_arm_trains_one_row_and_reuses_it(exp_synth_root, tmp_path):
    res = X.rerun_arm("table2", "dtg-img_img", out=tmp_path, quick=True, data_root=exp_synth_root,
                      overrides=["pretrain.max_steps_per_epoch=1", "finetune.max_steps_per_epoch=1",
                                 "finetune.epochs=1"], progress=False)
    assert [r["arm"] for r in res["rows"]] == ["dtg-img_img"]
    row = res["row"]
    assert row["seed"] == 0 and 0 <= row["acc1"] <= 100 and not row.get("reused")
    assert res["argv"] == ["--suite", "table2", "--quick"]
    assert (tmp_path / "table2" / "dtg-img_img").is_dir()
    again = X.rerun_arm("table2", "dtg-img_img", out=tmp_path, quick=True, data_root=exp_synth_root,
                        overrides=["pretrain.max_steps_per_epoch=1", "finetune.max_steps_per_epoch=1",
                                   "finetune.epochs=1"], progress=False)
    assert again["row"]["reused"] and again["row"]["acc1"] == row["acc1"]


def test_teacher_proxy_reads_the_teacher_cache_with_use_cache(tmp_path):
    """With dtg.use_cache (the lab preset) the teacher-kNN proxy scores the features DTG's
    guidance sees: the teacher feature cache, built for the training videos where missing."""
    from dtgkit.config import get_preset
    from dtgkit.data.synth import sample_root
    from dtgkit.experiments.teachers import teacher_proxy_accuracies
    from dtgkit.metrics import loo_knn_accuracy
    from dtgkit.models.teacher_cache import CachedGuidance
    from dtgkit.studies.guidance_space import video_guidance_features
    from dtgkit.train import data as TD

    cfg = get_preset("ci-tiny")
    cfg.data.root = str(sample_root())
    cfg.dtg.use_cache, cfg.dtg.cache_dir, cfg.dtg.cache_frame_stride = True, str(tmp_path / "tc"), 2
    said = []
    accs = teacher_proxy_accuracies(cfg, ["tiny", "tiny#seed=1"], tmp_path, say=said.append)
    assert set(accs) == {"tiny", "tiny#seed=1"} and (tmp_path / "tc" / "tiny.json").is_file()
    records, _ = TD.load_split(cfg.data, "train")
    feats = video_guidance_features(CachedGuidance(tmp_path / "tc", ["tiny"]), records, 2)["tiny"]
    assert accs["tiny"] == loo_knn_accuracy(feats, [r.label for r in records],
                                            TD.group_ids(records).numpy())
    assert teacher_proxy_accuracies(cfg, ["tiny"], tmp_path, say=said.append) == {"tiny": accs["tiny"]}
    assert "re-using" in said[-1]


def test_ablate_fills_a_suite_arm_by_arm_and_seed_by_seed(exp_synth_root, tmp_path, capsys):
    """``--arms`` / ``--seed0``: calls of the same budget merge into one table; another budget
    replaces it, with a notice; an unknown arm fails before anything is made."""
    from dtgkit.ablate import run_ablation
    from dtgkit.experiments.report import committed_budget, load_suite

    results = tmp_path / "results"
    base = ["ablate", "--suite", "table4", "--quick", "--out", str(tmp_path / "runs"), "--results",
            str(results), "--data-root", str(exp_synth_root), "--finetune-epochs", "1", "--max-steps", "2",
            "--no-progress"]
    run_ablation(_parse([*base, "--arms", "sup-tsn", "--seeds", "1"]))
    rows, _ = load_suite("table4", results)
    assert [(r["arm"], r["seed"]) for r in rows] == [("sup-tsn", 0)]
    argv = committed_budget("table4", results)
    assert argv[argv.index("--arms") + 1] == "sup-tsn"

    run_ablation(_parse([*base, "--arms", "sup-dtg", "--seeds", "1"]))
    run_ablation(_parse([*base, "--arms", "sup-tsn", "--seed0", "1", "--seeds", "1"]))
    assert "kept 2 rows" in capsys.readouterr().out
    rows, summary = load_suite("table4", results)
    assert [(r["arm"], r["seed"]) for r in rows] == [("sup-tsn", 0), ("sup-tsn", 1), ("sup-dtg", 0)]
    assert {s["arm"]: s["n"] for s in summary} == {"sup-tsn": 2, "sup-dtg": 1}
    argv = committed_budget("table4", results)
    assert argv[argv.index("--seeds") + 1] == "2" and argv[argv.index("--arms") + 1] == "sup-tsn,sup-dtg"
    assert "rows kept from earlier calls of the same budget" in (results / "table4.md").read_text()
    first = next(r for r in rows if r["arm"] == "sup-tsn" and r["seed"] == 0)

    # the same arm and seed again: its row is replaced (re-used from its run folder), not doubled
    run_ablation(_parse([*base, "--arms", "sup-tsn", "--seeds", "1"]))
    rows, _ = load_suite("table4", results)
    assert len(rows) == 3
    assert next(r for r in rows if r["arm"] == "sup-tsn" and r["seed"] == 0)["acc1"] == first["acc1"]

    assert "another budget" not in capsys.readouterr().out  # same budget: merged, no notice

    # another budget is a fresh table, and the call says so when it starts and when it writes
    run_ablation(_parse([*base[:-2], "1", "--no-progress", "--arms", "sup-dtg", "--seeds", "1"]))
    rows, _ = load_suite("table4", results)
    assert [(r["arm"], r["seed"]) for r in rows] == [("sup-dtg", 0)]
    out = capsys.readouterr().out
    assert "holds another budget" in out and "will replace it" in out
    assert "replaced the table of another budget" in out and "--max-steps 2" in out

    with pytest.raises(ValueError, match="unknown arm"):
        run_ablation(_parse([*base, "--arms", "no-such-arm"]))


def test_rows_carry_within_pair_accuracy_into_csv_and_markdown(tmp_path):
    """``pair_acc``: each confusable pair's within-pair test accuracy, from the run's scores,
    in the class order saved with them; kept through the CSV; one table line per arm."""
    import json

    from dtgkit.data.synth.world import META_NAME
    from dtgkit.experiments.arms import pair_accuracies
    from dtgkit.experiments.report import pair_markdown, read_csv, write_csv

    world = tmp_path / "world"
    world.mkdir()
    (world / META_NAME).write_text(json.dumps({
        "classes": [{"name": n} for n in ("Run", "Walk", "Ski", "Surf")],
        "confusable_pairs": [{"a": "Walk", "b": "Run", "kind": "motion", "how": "rate"},
                             {"a": "Ski", "b": "Surf", "kind": "scene", "how": "place"}]}))
    stage = tmp_path / "finetune"
    stage.mkdir()
    # scores saved in another class order than the world's: Walk, Run, Ski, Surf
    names = np.array(["Walk", "Run", "Ski", "Surf"])
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # indices into names
    scores = np.zeros((8, 4), np.float32)
    scores[[0, 1, 2, 3], [0, 0, 0, 1]] = 1.0  # Walk right twice, Run wrong, Run right
    scores[[4, 5, 6, 7], [2, 3, 3, 3]] = 1.0  # Ski right, Ski wrong, Surf right twice
    np.savez(stage / "scores_test.npz", scores=scores, labels=labels, class_names=names)
    got = pair_accuracies(stage, world)
    assert got == {"Walk/Run": 75.0, "Ski/Surf": 75.0}
    assert pair_accuracies(stage, tmp_path / "nowhere") == {}  # not a SynthActions world
    assert pair_accuracies(tmp_path, world) == {}  # no scores saved

    rows = [{"arm": "dtg", "label": "DTG", "seed": s, "acc1": 50.0, "pair_acc": got} for s in (1, 0)]
    rows.append({"arm": "random", "label": "Random", "seed": 0, "acc1": 40.0,
                 "pair_acc": {"Walk/Run": 50.0, "Ski/Surf": 100.0}})
    path = write_csv(rows, tmp_path / "t.csv", extra_columns=("pair_acc",))
    back = read_csv(path)
    assert json.loads(back[2]["pair_acc"]) == {"Walk/Run": 50.0, "Ski/Surf": 100.0}
    table = pair_markdown(back).splitlines()
    assert table[0] == "| method | seeds | Walk/Run | Ski/Surf |"
    assert table[2] == "| DTG | 0 / 1 | 75 / 75 | 75 / 75 |"
    assert table[3] == "| Random | 0 | 50 | 100 |"
    assert pair_markdown([{"arm": "x", "seed": 0, "pair_acc": ""}]) == ""
