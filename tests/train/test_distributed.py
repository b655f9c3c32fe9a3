"""DDP through torchrun on CPU (gloo): 2 processes vs 1 process with the same global batch.

The student here is a BatchNorm-free variant of ``tiny`` (GroupNorm), registered by the script:
with BatchNorm each rank normalises its half batch with its own statistics, so the two runs
would differ by design (as in MoCo / mmaction2 without SyncBN).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from dtgkit.train import distributed as D

SCRIPT = textwrap.dedent("""
    import sys, torch
    from torch import nn
    from dtgkit.config import resolve_config
    from dtgkit.models.students import TSNStudent, register_student
    from dtgkit.train import distributed as D
    from dtgkit.train.pretrain import pretrain

    @register_student("tiny_gn")
    def tiny_gn(width: int = 32):
        backbone = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
            nn.Conv2d(16, width, 3, stride=2, padding=1), nn.GroupNorm(4, width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        return TSNStudent(backbone, width)

    out = sys.argv[1]
    cfg = resolve_config("ci-tiny", overrides=sys.argv[2:])

    # record how many samples this rank extracts in each evaluation pass
    import json
    from dtgkit.train import evaluate as EV
    shares, share_of = [], EV._rank_share
    def counting(loader):
        share, sharded = share_of(loader)
        shares.append([len(share.dataset), len(loader.dataset), sharded])
        return share, sharded
    EV._rank_share = counting

    def dump(trainer):
        q = trainer.model.queues["tiny"]
        torch.save({"feats": q.feats.clone(), "video_ids": q.video_ids.clone(),
                    "world": D.get_world_size(), "step": trainer.step,
                    "student": {k: v.clone() for k, v in trainer.model.student.state_dict().items()}},
                   f"{out}/queue_rank{D.get_rank()}.pt")

    res = pretrain(cfg, run_dir=out, callbacks={"on_train_end": [dump]})
    with open(f"{out}/shares_rank{D.get_rank()}.json", "w") as fh:
        json.dump({"shares": shares, "knn": res.results["knn"]}, fh)
    D.cleanup()
""")


def _run(cmd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400, cwd=tmp_path,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _losses(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r.get("kind") == "train"]


@pytest.mark.slow
def test_torchrun_two_processes_match_one(tiny_cfg, tmp_path):
    script = tmp_path / "ddp_pretrain.py"
    script.write_text(SCRIPT)
    overrides = [f"data.root={tiny_cfg.data.root}", "model.student=tiny_gn", "pretrain.epochs=2",
                 "pretrain.batch_size=4", "pretrain.max_steps_per_epoch=3", "run.device=cpu"]
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _run([sys.executable, str(script), str(one), *overrides], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
          str(script), str(two), *overrides], tmp_path)

    q0 = torch.load(two / "queue_rank0.pt", weights_only=True)
    q1 = torch.load(two / "queue_rank1.pt", weights_only=True)
    qs = torch.load(one / "queue_rank0.pt", weights_only=True)
    assert q0["world"] == q1["world"] == 2 and qs["world"] == 1
    # every rank holds the same queue (keys all-gathered before the enqueue)
    assert torch.equal(q0["feats"], q1["feats"]) and torch.equal(q0["video_ids"], q1["video_ids"])
    # ... and the same keys as one process with the same global batch (rows of a step are in
    # rank order there, in sample order here: compare by video id)
    assert q0["step"] == qs["step"] == 6
    written = qs["video_ids"] >= 0
    assert torch.equal(written, q0["video_ids"] >= 0)
    by_vid_one = {int(v): f for v, f in zip(qs["video_ids"][written], qs["feats"][written])}
    by_vid_two = {int(v): f for v, f in zip(q0["video_ids"][written], q0["feats"][written])}
    assert by_vid_one.keys() == by_vid_two.keys()
    for v, feat in by_vid_one.items():
        assert torch.allclose(feat, by_vid_two[v], atol=1e-4), v
    # the logged loss (mean over ranks) matches the one-process loss step by step
    l1, l2 = _losses(one), _losses(two)
    assert len(l1) == len(l2) == 6
    assert l2 == pytest.approx(l1, rel=1e-4, abs=1e-4)
    for k, w in qs["student"].items():
        assert torch.allclose(w, q0["student"][k], atol=1e-4), k
    # the kNN monitor: every rank extracted its own share of the bank and of the queries (no
    # padding duplicates), and all ranks got the metrics of one process
    r0, r1, rs = (json.loads((d / f"shares_rank{r}.json").read_text())
                  for d, r in ((two, 0), (two, 1), (one, 0)))
    assert len(r0["shares"]) == len(r1["shares"]) == 2  # bank (train split), queries (test split)
    for (n0, full, sharded), (n1, _, _) in zip(r0["shares"], r1["shares"]):
        assert sharded and n0 + n1 == full and 0 < n1 <= n0 < full
    assert [s[2] for s in rs["shares"]] == [False, False]
    for key in ("acc1", "acc5", "mAP", "mean_class_acc", "bank", "queries"):
        assert r0["knn"][key] == r1["knn"][key] == pytest.approx(rs["knn"][key]), key
    # rank 0 alone wrote the run folder
    assert (two / "checkpoint.pt").is_file() and (two / "results.json").is_file()
    assert json.loads((two / "results.json").read_text())["world_size"] == 2


def test_single_process_helpers():
    info = D.init_distributed("cpu")
    assert not info.enabled and info.is_main and info.device.type == "cpu"
    assert D.get_rank() == 0 and D.get_world_size() == 1 and D.is_main_process()
    t = torch.tensor([1.0, 2.0])
    assert D.all_reduce_mean(t) is t
    assert D.broadcast_object({"a": 1}) == {"a": 1}
    m = torch.nn.Linear(2, 2)
    assert D.wrap_ddp(m, torch.device("cpu")) is m and D.unwrap(m) is m
    assert D.select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            D.select_device("cuda")


SHUFFLE_SCRIPT = textwrap.dedent("""
    import json, sys, torch, torch.distributed as dist
    from dtgkit.dtg.baselines import shuffle_across_ranks, unshuffle_across_ranks
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(rank)  # each rank draws another permutation: rank 0's must win
    x = torch.arange(4, dtype=torch.float32).view(4, 1) + 10 * rank  # rank r holds 10r .. 10r+3
    mine, unshuffle = shuffle_across_ranks(x)
    back = unshuffle_across_ranks(mine * 2, unshuffle)  # an "encoder" applied to the share
    json.dump({"mine": mine.view(-1).tolist(), "back": back.view(-1).tolist()},
              open(f"{sys.argv[1]}/shuffle{rank}.json", "w"))
    dist.destroy_process_group()
""")


@pytest.mark.slow
def test_moco_shuffle_bn_across_ranks(tmp_path):
    """MoCo's batch shuffle over processes: each rank encodes a random share of the global batch
    and gets its own samples' keys back in order."""
    script = tmp_path / "shuffle.py"
    script.write_text(SHUFFLE_SCRIPT)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
          str(script), str(tmp_path)], tmp_path)
    r0, r1 = (json.loads((tmp_path / f"shuffle{r}.json").read_text()) for r in (0, 1))
    assert sorted(r0["mine"] + r1["mine"]) == [0, 1, 2, 3, 10, 11, 12, 13]  # a partition
    assert r0["mine"] != [0, 1, 2, 3] or r1["mine"] != [10, 11, 12, 13]  # shuffled
    assert r0["back"] == [0, 2, 4, 6] and r1["back"] == [20, 22, 24, 26]
