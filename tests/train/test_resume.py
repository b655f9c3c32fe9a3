"""A run interrupted after epoch e and resumed ends with the same weights as an uninterrupted
one (CPU, ci-tiny preset on a tiny SynthActions set); fine-tuning / joint / evaluate run end to end."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from dtgkit.train import engine as E
from dtgkit.train.finetune import evaluate, finetune, joint
from dtgkit.train.pretrain import pretrain


class _Killed(Exception):
    pass


def _kill_mid_epoch2(trainer):
    if trainer.epoch == 1 and trainer.step == trainer.steps_per_epoch + 2:
        raise _Killed()


def _assert_same_state(a: dict, b: dict):
    assert set(a) == set(b)
    for k, v in a.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, b[k]), k
        else:
            assert v == b[k], k


@pytest.mark.parametrize("method", ["dtg", "moco"])
def test_pretrain_resume_is_exact(tiny_cfg, tmp_path, method):
    cfg = tiny_cfg.copy()
    cfg.dtg.method = method
    cfg.pretrain.epochs = 2
    full = pretrain(cfg, run_dir=tmp_path / "full")
    with pytest.raises(_Killed):
        pretrain(cfg, run_dir=tmp_path / "part", callbacks={"on_batch_end": [_kill_mid_epoch2]})
    assert E.load_checkpoint(tmp_path / "part")["epoch"] == 1
    with pytest.raises(ValueError, match="--resume"):
        pretrain(cfg, run_dir=tmp_path / "part")
    resumed = pretrain(cfg, run_dir=tmp_path / "part", resume=True)
    a, b = E.load_checkpoint(full.run_dir), E.load_checkpoint(resumed.run_dir)
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"]
    _assert_same_state(a["model"], b["model"])
    if method == "dtg":
        assert any(k.startswith("queues.") for k in a["model"])
        assert not any("network" in k for k in a["model"])  # teachers only by reference
    else:
        assert any(k.startswith("key_student.") for k in a["model"])
    assert resumed.results["knn"] == full.results["knn"]
    assert [r["loss"] for r in E.read_metrics(full.run_dir, "train")] == \
        [r["loss"] for r in E.read_metrics(resumed.run_dir, "train")]
    # a finished run asked to resume returns its stored results
    again = pretrain(cfg, run_dir=tmp_path / "part", resume=True)
    assert again.cached and again.results == json.loads((tmp_path / "part" / "results.json").read_text())


def test_pretrain_run_dir_contents(pretrained_run):
    res = pretrained_run
    d = res.run_dir
    assert d.name == "ci-tiny-pretrain-dtg"
    for name in ("config.yaml", "metrics.jsonl", "checkpoint.pt", "results.json"):
        assert (d / name).is_file(), name
    row = E.read_metrics(d, "train")[0]
    for key in ("step", "epoch", "lr", "loss", "loss/tiny", "weight/tiny", "acc", "pos_sim",
                "neg_sim", "clips_per_s"):
        assert key in row, key
    knn = res.results["knn"]
    assert knn["bank"] == 18 and knn["queries"] == 6 and 0 <= knn["acc1"] <= 100
    assert res.history == E.read_metrics(d, "train")
    evals = E.read_metrics(d, "eval")  # the kNN monitor after epoch 1 (eval_knn_every=1) and at the end
    assert [r["epoch"] for r in evals] == [1, 2] and evals[-1]["knn_acc1"] == knn["acc1"]


SIGKILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from dtgkit.config import resolve_config
    from dtgkit.train.pretrain import pretrain
    cfg = resolve_config("ci-tiny", overrides=sys.argv[2:])
    def die(t):
        if t.epoch == 1 and t.step == t.steps_per_epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)
    pretrain(cfg, run_dir=sys.argv[1], callbacks={"on_batch_end": [die]})
""")


def test_resume_after_sigkill(tiny_cfg, tmp_path):
    """A real kill (SIGKILL) in the middle of epoch 2: the epoch-1 checkpoint is intact."""
    overrides = [f"data.root={tiny_cfg.data.root}", "pretrain.epochs=2"]
    script = tmp_path / "run.py"
    script.write_text(SIGKILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "killed"), *overrides],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert E.load_checkpoint(tmp_path / "killed")["epoch"] == 1
    cfg = tiny_cfg.copy()
    cfg.pretrain.epochs = 2
    resumed = pretrain(cfg, run_dir=tmp_path / "killed", resume=True)
    full = pretrain(cfg, run_dir=tmp_path / "full")
    _assert_same_state(E.load_checkpoint(full.run_dir)["model"], E.load_checkpoint(resumed.run_dir)["model"])


def test_finetune_from_pretrain_resume_and_evaluate(tiny_cfg, pretrained_run, tmp_path):
    pre = pretrained_run
    cfg = tiny_cfg.copy()
    cfg.data.test_clips = 2
    cfg.finetune.epochs = 2
    full = finetune(cfg, init=pre.run_dir, run_dir=tmp_path / "ft_full")
    test = full.results["test"]
    for key in ("acc1", "acc5", "mAP", "mean_class_acc"):
        assert 0.0 <= test[key] <= 100.0
    assert test["num_samples"] == 6 and test["test_clips"] == 2
    scores = np.load(full.run_dir / "scores_test.npz")
    assert scores["scores"].shape == (6, 3) and np.allclose(scores["scores"].sum(1), 1)
    # the initial student weights are the pre-trained ones
    with pytest.raises(_Killed):
        finetune(cfg, init=pre.run_dir, run_dir=tmp_path / "ft_part",
                 callbacks={"on_batch_end": [_kill_mid_epoch2]})
    resumed = finetune(cfg, init=pre.run_dir, run_dir=tmp_path / "ft_part", resume=True)
    _assert_same_state(E.load_checkpoint(full.run_dir)["model"], E.load_checkpoint(resumed.run_dir)["model"])
    assert resumed.results["test"] == test

    ev = evaluate(None, full.run_dir)
    assert ev["classifier"] == pytest.approx(test)
    assert ev["knn"]["num_samples"] == 6 and ev["linear_probe"]["num_samples"] == 6
    feats = np.load(ev["features"])
    assert feats["feats"].shape == (6, 32) and list(feats["class_names"]) == ["Walk", "Run", "Clap"]


def test_finetune_rejects_other_student(tiny_cfg, pretrained_run, tmp_path):
    pre = pretrained_run
    cfg = tiny_cfg.copy()
    cfg.model.student = "tiny3d"
    with pytest.raises(ValueError, match="checkpoint's student is 'tiny'"):
        finetune(cfg, init=pre.run_dir, run_dir=tmp_path / "ft")


@pytest.mark.parametrize("method", ["dtg", "none"])
def test_joint_supervised_dtg(tiny_cfg, method):
    cfg = tiny_cfg.copy()
    cfg.dtg.method = method
    cfg.finetune.epochs = 1
    res = joint(cfg)
    row = E.read_metrics(res.run_dir, "train")[-1]
    assert row["loss"] == pytest.approx(cfg.dtg.alpha * row["contrast"] + cfg.dtg.beta * row["ce"], rel=1e-5)
    if method == "none":
        assert row["contrast"] == 0.0
    else:
        assert row["contrast"] > 0 and "loss/tiny" in row
    assert res.results["test"]["num_samples"] == 6
    assert set(E.load_checkpoint(res.run_dir)["model"]) >= {"fc.weight", "fc.bias"}


def test_nan_loss_stops_pretrain_and_keeps_checkpoint(tiny_cfg, tmp_path):
    state = {"n": 0}

    def poison(trainer):  # corrupt the weights after epoch 1: the next loss is NaN
        if trainer.epoch == 1 and state["n"] == 0:
            state["n"] = 1
            with torch.no_grad():
                for p in trainer.model.student.parameters():
                    p.fill_(float("nan"))

    with pytest.raises(E.NonFiniteLossError, match=r"step 5 \(epoch 2, batch 1\).*loss/tiny=nan"):
        pretrain(tiny_cfg, run_dir=tmp_path / "nan", callbacks={"on_epoch_end": [poison]})
    ckpt = E.load_checkpoint(tmp_path / "nan")
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())


@pytest.mark.parametrize("method", ["distinit-l1", "distinit-ce"])
def test_pretrain_distinit_baselines(tiny_cfg, method):
    cfg = tiny_cfg.copy()
    cfg.dtg.method = method
    cfg.pretrain.epochs, cfg.pretrain.max_steps_per_epoch = 1, 2
    res = pretrain(cfg)
    assert res.run_dir.name == f"ci-tiny-pretrain-{method}" and res.results["steps"] == 2
    assert "loss/tiny" in res.history[-1] and np.isfinite(res.history[-1]["loss"])


def test_pretrain_with_teacher_cache(tiny_cfg, synth_root, tmp_path):
    from dtgkit.models.teacher_cache import cache_teacher_features

    cache_teacher_features(synth_root / "videos", ["tiny"], tmp_path / "cache", size=32, progress=False)
    cfg = tiny_cfg.copy()
    cfg.dtg.use_cache, cfg.dtg.cache_dir = True, str(tmp_path / "cache")
    cfg.pretrain.epochs, cfg.pretrain.max_steps_per_epoch = 1, 2
    res = pretrain(cfg)
    assert res.results["steps"] == 2 and np.isfinite(res.history[-1]["loss/tiny"])
    # DistInit-CE needs teacher logits, which the feature cache does not hold: one clear error
    # (MoCo under use_cache reads no cache and trains: test_pretrain_builds_its_caches_on_first_use)
    cfg.dtg.method = "distinit-ce"
    with pytest.raises(ValueError, match="distinit-ce needs teacher logits"):
        pretrain(cfg, run_dir=tmp_path / "distinit-ce")


def test_pretrain_builds_its_caches_on_first_use(tiny_cfg, tmp_path, capsys):
    """The lab's data path: a clip cache of both splits and the teacher feature cache (every
    2nd frame) are built by the first run, re-used by the next; DistInit's summed L1 and a
    cosine schedule run through the same engine."""
    from dtgkit.train import data as TD
    from dtgkit.train.pretrain import build_teachers, ensure_teacher_cache

    cfg = tiny_cfg.copy()
    cfg.data.clip_cache = str(tmp_path / "clip_cache")
    cfg.dtg.use_cache, cfg.dtg.cache_dir = True, str(tmp_path / "tcache")
    cfg.dtg.cache_frame_stride, cfg.pretrain.schedule = 2, "cosine"
    cfg.pretrain.epochs, cfg.pretrain.max_steps_per_epoch = 2, 2
    res = pretrain(cfg, run_dir=tmp_path / "dtg")
    out = capsys.readouterr().err
    assert "clip cache: decoding 24 videos" in out and "teacher cache: caching tiny" in out
    assert res.results["steps"] == 4 and np.isfinite(res.history[-1]["loss/tiny"])
    assert res.results["knn"]["queries"] == 6  # the test videos, read from the clip cache
    index = json.loads((tmp_path / "tcache" / "tiny.json").read_text())
    assert index["complete"] and index["frame_stride"] == 2 and len(index["done"]) == 18
    cfg.dtg.method, cfg.dtg.distinit_l1_dims = "distinit-l1", "sum"
    res = pretrain(cfg, run_dir=tmp_path / "distinit")
    out = capsys.readouterr().err
    assert "decoding" not in out and "caching" not in out  # both caches re-used
    assert np.isfinite(res.results["final_loss"])
    train, _ = TD.load_split(cfg.data, "train")
    assert ensure_teacher_cache(cfg, list(build_teachers(cfg).values()), train) == []
    cfg.dtg.cache_frame_stride = 1  # another stride: rebuilt
    assert ensure_teacher_cache(cfg, list(build_teachers(cfg).values()), train) == ["tiny"]
    # MoCo under the same budget (the lab preset sets use_cache for every arm): no teachers,
    # so no cache is read, and it trains
    cfg.dtg.method = "moco"
    res = pretrain(cfg, run_dir=tmp_path / "moco")
    assert res.results["steps"] == 4 and np.isfinite(res.results["final_loss"])


def test_model_init_from_checkpoint_or_state_file(tiny_cfg, pretrained_run, tmp_path):
    from dtgkit.train.pretrain import build_student

    want = E.student_state_dict(E.load_checkpoint(pretrained_run.run_dir))
    cfg = tiny_cfg.copy()
    cfg.model.init = str(pretrained_run.checkpoint)
    _assert_same_state(build_student(cfg).state_dict(), want)
    torch.save(want, tmp_path / "student.pt")
    cfg.model.init = str(tmp_path / "student.pt")
    clf = build_student(cfg, num_classes=3)
    _assert_same_state(clf.student.state_dict(), want)
    torch.save({"foo": torch.zeros(1)}, tmp_path / "other.pt")
    cfg.model.init = str(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="model.init"):
        build_student(cfg)
