"""The generic training loop on a toy regression: logging, checkpoints, resume, NaN stop."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from dtgkit.config import OptimConfig, RunConfig, get_preset
from dtgkit.train import engine as E


class ToySet(torch.utils.data.Dataset):
    """y = x @ w + noise drawn from (epoch, index), like the video datasets do."""

    def __init__(self, n=24, d=5):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, d, generator=g)
        self.w = torch.randn(d, 1, generator=g)
        self.epochs_seen = []
        self._epoch = 0

    def set_epoch(self, epoch):
        self._epoch = epoch
        self.epochs_seen.append(epoch)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(1000 * self._epoch + i)
        x = self.x[i] + 0.01 * torch.randn(self.x.shape[1], generator=g)
        return x, (self.x[i] @ self.w), i


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.student = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))


def toy_step(model, batch):
    x, y, _ = batch
    pred = model.student(x)
    mse = ((pred - y) ** 2).mean()
    model.seen += x.shape[0]
    return mse, {"mse": mse.detach(), "inst_acc": torch.tensor(0.5), "w/teachers": torch.tensor([0.25, 0.75])}


def make_trainer(tmp_path, epochs=3, step_fn=toy_step, seed=0, init_seed=0, **run_kw):
    torch.manual_seed(init_seed)
    optim = OptimConfig(epochs=epochs, batch_size=4, lr=0.05, milestones=[2], weight_decay=1e-4)
    run = RunConfig(out_dir=str(tmp_path), progress=False, log_every=2, seed=seed, amp=False, **run_kw)
    model = Toy()
    return E.Trainer(model, step_fn, ToySet(), optim=optim, run=run, run_dir=tmp_path,
                     student=model.student, stage="toy", meta={"classes": ["a", "b"]})


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_fit_logs_metrics_and_checkpoint(tmp_path):
    tr = make_trainer(tmp_path)
    events = []
    for ev in tr.EVENTS:
        tr.add_callback(ev, lambda t, ev=ev: events.append(ev))
    hist = tr.fit()
    assert tr.step == 3 * 6 and tr.epoch == 3
    assert tr.train_set.epochs_seen == [0, 1, 2]
    rows = E.read_metrics(tmp_path, "train")
    assert rows == hist and len(rows) == 9  # every 2 steps, 6 steps per epoch
    r = rows[0]
    for key in ("step", "epoch", "lr", "loss", "mse", "inst_acc", "w/teachers", "clips_per_s"):
        assert key in r
    assert r["w/teachers"] == pytest.approx([0.25, 0.75]) and r["step"] == 2
    assert rows[-1]["lr"] == pytest.approx(0.005)  # x0.1 after epoch 2
    assert len(E.read_metrics(tmp_path, "epoch")) == 3
    ckpt = E.load_checkpoint(tmp_path)
    assert ckpt["epoch"] == 3 and ckpt["step"] == 18 and ckpt["meta"]["classes"] == ["a", "b"]
    assert ckpt["student_prefix"] == "student"
    assert set(E.student_state_dict(ckpt)) == set(tr.model.student.state_dict())
    assert events[0] == "on_train_start" and events[-1] == "on_train_end"
    assert events.count("on_epoch_end") == 3 and events.count("on_batch_end") == 18
    assert not list(tmp_path.glob("*.tmp"))


def test_cosine_schedule_ends_quietly():
    """schedule=cosine: epoch e runs at lr (1 + cos(pi e / (E + 1))) / 2, from lr down to a
    small, non-zero lr in the last epoch; step (the paper's) keeps its milestones."""
    params = [nn.Parameter(torch.zeros(1))]
    for schedule, want in (("cosine", [0.1 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(4)]),
                           ("step", [0.1, 0.1, 0.01, 0.01])):
        opt = E.build_optimizer(params, OptimConfig(epochs=4, lr=0.1, milestones=[2],
                                                    schedule=schedule))
        sched = E.build_scheduler(opt, OptimConfig(epochs=4, lr=0.1, milestones=[2],
                                                   schedule=schedule))
        lrs = []
        for _ in range(4):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        assert lrs == pytest.approx(want), schedule
        if schedule == "cosine":
            assert lrs == sorted(lrs, reverse=True) and 0 < lrs[-1] < 0.05


def test_max_steps_per_epoch(tmp_path):
    tr = make_trainer(tmp_path, epochs=2)
    tr.optim_cfg.max_steps_per_epoch = 2
    tr.fit()
    assert tr.step == 4


class _Kill(Exception):
    pass


def test_resume_after_interruption_is_exact(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    want = _weights(full.model)

    part = make_trainer(tmp_path / "part")

    def kill(t):  # dies in the middle of epoch 2 (after the epoch-1 checkpoint)
        if t.epoch == 1 and t.step == 8:
            raise _Kill()

    part.add_callback("on_batch_end", kill)
    with pytest.raises(_Kill):
        part.fit()
    assert E.load_checkpoint(tmp_path / "part")["epoch"] == 1

    again = make_trainer(tmp_path / "part", init_seed=123)  # different init: resume must overwrite it
    again.fit(resume=True)
    got = _weights(again.model)
    assert set(got) == set(want)
    for k in want:
        assert torch.equal(got[k], want[k]), k
    # metrics of the killed epoch were replaced, not duplicated
    steps = [r["step"] for r in E.read_metrics(tmp_path / "part", "train")]
    assert steps == [r["step"] for r in E.read_metrics(tmp_path / "full", "train")]


def test_nan_loss_stops_with_message_and_keeps_checkpoint(tmp_path):
    def nan_step(model, batch):
        loss, diag = toy_step(model, batch)
        if E_state["calls"] == 8:
            loss = loss * float("nan")
            diag["loss/teacher1"] = torch.tensor(float("inf"))
        E_state["calls"] += 1
        return loss, diag

    E_state = {"calls": 0}
    tr = make_trainer(tmp_path, step_fn=nan_step)
    with pytest.raises(E.NonFiniteLossError, match=r"step 9 \(epoch 2.*loss/teacher1=inf"):
        tr.fit()
    ckpt = E.load_checkpoint(tmp_path)
    assert ckpt["epoch"] == 1 and ckpt["step"] == 6
    err = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()][-1]
    assert err["kind"] == "error" and err["step"] == 9


def test_run_dir_guard_and_errors(tmp_path):
    cfg = get_preset("ci-tiny")
    run_dir = E.prepare_run_dir(tmp_path / "r", cfg, resume=False)
    assert (run_dir / "config.yaml").is_file()
    E.save_atomic({"x": 1}, run_dir / E.CHECKPOINT_NAME)
    with pytest.raises(ValueError, match="--resume"):
        E.prepare_run_dir(run_dir, cfg, resume=False)
    E.prepare_run_dir(run_dir, cfg, resume=False, overwrite=True)
    assert not (run_dir / E.CHECKPOINT_NAME).exists()
    (aside,) = tmp_path.glob("r.old-*")  # --overwrite moves the old run aside, deletes nothing
    assert (aside / E.CHECKPOINT_NAME).is_file() and (aside / "config.yaml").is_file()
    with pytest.raises(FileNotFoundError):
        E.load_checkpoint(run_dir)
    (run_dir / E.CHECKPOINT_NAME).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a dtgkit checkpoint \\(truncated or corrupt") as err:
        E.load_checkpoint(run_dir)
    assert "weights_only" not in str(err.value)  # never suggest unsafe loading
    with pytest.raises(ValueError, match="fewer than one batch"):
        E.Trainer(Toy(), toy_step, torch.utils.data.TensorDataset(torch.zeros(2, 5)),
                  optim=OptimConfig(batch_size=4), run=RunConfig(progress=False), run_dir=tmp_path)


def test_rng_state_roundtrip():
    E.seed_everything(3)
    s = E.rng_state()
    a = (np.random.rand(), torch.rand(1).item(), __import__("random").random())
    E.set_rng_state(s)
    b = (np.random.rand(), torch.rand(1).item(), __import__("random").random())
    assert a == b
    assert E.epoch_seed(0, 1) != E.epoch_seed(1, 0)
