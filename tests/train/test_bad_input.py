"""Issue 11, through the real CLI: each bad input ends in one line naming the file / line / key
and exit code 1 (no traceback), a finished run is never lost or silently replaced, and a
resumed run is the same run. README's table "What happens when ..." lists these cases."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shlex
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from dtgkit.cli import main
from dtgkit.train import engine as E


def _args(synth_root, out, *more):
    return ["--preset", "ci-tiny", "--set", f"data.root={synth_root}", "--set", f"run.out_dir={out}",
            "--set", "pretrain.epochs=1", "--set", "finetune.epochs=1", *more]


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _fails(capsys, *argv, match: str) -> str:
    """The command exits 1 with one error line matching ``match``, and no traceback."""
    rc, out, err = _run(capsys, *argv)
    assert rc == 1, (out, err)
    assert "Traceback" not in err and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"dtgkit {argv[0]}: error: "), last
    assert re.search(match, last), last
    return last


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(synth_root, tmp_path_factory):
    """Two finished ci-tiny pre-training runs (A: seed 0, B: seed 1), one epoch each."""
    out = tmp_path_factory.mktemp("finished")
    for name, seed in (("A", 0), ("B", 1)):
        rc = main(["pretrain", *_args(synth_root, out), "--set", f"run.seed={seed}",
                   "--run-dir", str(out / name)])
        assert rc == 0
    return out


@pytest.fixture
def run_a(finished, tmp_path):
    """A copy of run A this test may change."""
    shutil.copytree(finished / "A", tmp_path / "A")
    return tmp_path / "A"


# ---------------------------------------------------------------------------- finished work
def test_overwrite_checks_everything_before_touching_the_old_run(synth_root, run_a, tmp_path,
                                                                 capsys):
    before = _digest(run_a)
    for bad in ("data.root=/nonexistent/x", "model.student=no_such_net", "dtg.teachers=nope"):
        _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", bad, "--overwrite",
               "--run-dir", str(run_a), match=re.escape(bad.split("=")[1]))
        assert _digest(run_a) == before and not list(tmp_path.glob("A.old-*"))
    # a good --overwrite moves the finished run aside (nothing deleted), then trains afresh
    rc, out, err = _run(capsys, "pretrain", *_args(synth_root, tmp_path), "--overwrite",
                        "--run-dir", str(run_a))
    assert rc == 0 and json.loads(out)["epochs_done"] == 1
    (aside,) = tmp_path.glob("A.old-*")
    assert _digest(aside) == before and f"moved the previous run in {run_a} to {aside}" in err


def test_resume_refuses_another_config_and_keeps_the_run(synth_root, run_a, tmp_path, capsys):
    before = _digest(run_a)
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", "pretrain.lr=0.01",
           "--resume", "--run-dir", str(run_a),
           match=r"another config \(pretrain\.lr: 0\.05 -> 0\.01\).*config\.yaml")
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", "pretrain.epochs=3",
           "--resume", "--run-dir", str(run_a), match=r"pretrain\.epochs: 1 -> 3")
    assert _digest(run_a) == before
    # volatile settings (progress, workers, device, folders) may differ
    rc, out, _ = _run(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", "run.progress=true",
                      "--set", "data.num_workers=1", "--resume", "--run-dir", str(run_a))
    assert rc == 0 and json.loads(out) == json.loads((run_a / "results.json").read_text())
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--resume", "--overwrite",
           "--run-dir", str(run_a), match="contradict")


def test_resume_without_a_checkpoint_says_it_starts_fresh(synth_root, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, out, err = _run(capsys, "pretrain", *_args(synth_root, tmp_path), "--resume",
                        "--run-dir", str(empty))
    assert rc == 0 and f"no checkpoint in {empty}, starting fresh" in err
    assert json.loads(out)["epochs_done"] == 1


def test_finetune_folder_knows_its_init(synth_root, finished, tmp_path, capsys):
    a, b = finished / "A", finished / "B"
    args = _args(synth_root, tmp_path)
    rc, out, _ = _run(capsys, "finetune", *args, "--init", str(a))
    res_a = json.loads(out)
    rc_b, out_b, _ = _run(capsys, "finetune", *args, "--init", str(b))
    res_b = json.loads(out_b)
    assert rc == rc_b == 0 and res_a["run_dir"] != res_b["run_dir"]  # the default names differ
    assert Path(res_a["run_dir"]).name.startswith("ci-tiny-finetune-from-A-")
    assert res_b["init"] == str(b) and res_b["inputs"]["init"]["path"] == str(b / "checkpoint.pt")
    # B's fine-tuning resumed in A's folder: refused, naming both
    _fails(capsys, "finetune", *args, "--init", str(b), "--resume", "--run-dir", res_a["run_dir"],
           match=f"init: made from {re.escape(str(a))}/checkpoint.pt .* now {re.escape(str(b))}")


def test_a_changed_init_file_needs_allow_changed_init(synth_root, finished, tmp_path, capsys):
    init = tmp_path / "init"
    shutil.copytree(finished / "A", init)
    args = [*_args(synth_root, tmp_path), "--init", str(init), "--run-dir", str(tmp_path / "ft")]
    assert _run(capsys, "finetune", *args)[0] == 0
    shutil.copy(finished / "B" / "checkpoint.pt", init / "checkpoint.pt")  # same path, other file
    _fails(capsys, "finetune", *args, "--resume", match="made from other files.*--allow-changed-init")
    rc, out, _ = _run(capsys, "finetune", *args, "--resume", "--allow-changed-init")
    assert rc == 0 and json.loads(out)["epochs_done"] == 1


def _tiny_teacher_file(path: Path, seed: int) -> Path:
    """A user teacher checkpoint (``checkpoint:PATH``) in ``dtgkit train-teacher``'s format."""
    from dtgkit.models.teachers import CHECKPOINT_FORMAT, build_arch

    torch.manual_seed(seed)
    net = build_arch("tiny", 3, dim=8)
    torch.save({"format": CHECKPOINT_FORMAT, "arch": "tiny", "num_classes": 3,
                "classes": ["a", "b", "c"], "state_dict": net.state_dict(),
                "meta": {"arch_kw": {"dim": 8}, "name": "mine"}}, path)
    return path


def test_a_changed_teacher_file_needs_allow_changed_init(synth_root, tmp_path, capsys):
    teacher = _tiny_teacher_file(tmp_path / "teacher.pt", seed=0)
    args = [*_args(synth_root, tmp_path), "--set", f"dtg.teachers=checkpoint:{teacher}",
            "--run-dir", str(tmp_path / "r")]
    rc, out, _ = _run(capsys, "pretrain", *args)
    assert rc == 0 and f"teacher checkpoint:{teacher}" in json.loads(out)["inputs"]
    _tiny_teacher_file(teacher, seed=1)  # retrained in place: same path, other weights
    _fails(capsys, "pretrain", *args, "--resume",
           match=f"teacher checkpoint:{re.escape(str(teacher))}: made from .* now .*allow-changed-init")
    assert _run(capsys, "pretrain", *args, "--resume", "--allow-changed-init")[0] == 0


def test_evaluate_lays_set_over_the_checkpoint_config(synth_root, finished, tmp_path, capsys):
    rc, out, _ = _run(capsys, "evaluate", str(finished / "A"), "--no-linear",
                      "--set", "data.test_clips=2", "--out", str(tmp_path / "ev"))
    ev = json.loads(out)
    # the checkpoint's ci-tiny data settings, not the library defaults (224 px, 8 segments)
    assert rc == 0 and ev["data"] == {"dataset": "synth", "root": str(synth_root), "num_segments": 2,
                                      "size": 32, "test_clips": 2}
    assert ev["skipped_videos"] == {} and ev["short_videos"] == {}


# ---------------------------------------------------------------------------- bad videos
def _short_avi(path: Path, frames: int = 8) -> None:
    """An MPEG-4 AVI cut short: its header declares ``frames``, the file holds fewer."""
    tmp = path.with_suffix(".whole.avi")
    with av.open(str(tmp), "w", format="avi") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        s.options = {"qscale": "2"}
        for k in range(frames):
            img = np.full((32, 32, 3), 20 * k, np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode())
    data = tmp.read_bytes()
    tmp.unlink()
    for frac in (0.9, 0.85, 0.8):  # the first cut that still opens with fewer frames
        path.write_bytes(data[: int(len(data) * frac)])
        try:
            with av.open(str(path)) as c:
                st = c.streams.video[0]
                held = sum(1 for p in c.demux(st) if p.size)
            if 0 < held < frames == st.frames:
                return
        except av.FFmpegError:
            pass
    raise AssertionError("no truncation of the AVI kept it openable")


@pytest.fixture(scope="module")
def damaged_root(synth_root, tmp_path_factory):
    """The tiny set with one training video cut short and one test video broken."""
    root = tmp_path_factory.mktemp("damaged")
    shutil.copytree(synth_root, root, dirs_exist_ok=True)
    train = (root / "splits" / "trainlist01.txt").read_text().split()[0]
    test = (root / "splits" / "testlist01.txt").read_text().split()[0]
    _short_avi(root / "videos" / train)  # an AVI under the .mp4 name the split file lists
    (root / "videos" / test).write_bytes(b"not a video")
    return root, str(root / "videos" / train), str(root / "videos" / test)


@pytest.mark.parametrize("stage", ["pretrain", "finetune", "joint"])
def test_runs_record_skipped_and_short_videos(damaged_root, tmp_path, capsys, stage):
    root, short, broken = damaged_root
    with pytest.warns(RuntimeWarning):
        rc, out, _ = _run(capsys, stage, *_args(root, tmp_path))
    res = json.loads(out)
    assert rc == 0 and short in res["short_videos"] and broken in res["skipped_videos"]
    assert "declares 8 frames" in res["short_videos"][short]
    if stage != "pretrain":
        with pytest.warns(RuntimeWarning):
            rc, out, _ = _run(capsys, "evaluate", res["run_dir"], "--no-linear")
        ev = json.loads(out)
        assert rc == 0 and short in ev["short_videos"] and broken in ev["skipped_videos"]


# ---------------------------------------------------------------------------- one clear line
@pytest.mark.parametrize("text, match", [
    ("pretrain:\n  lr: 0.1\n  epochs: two\n", r"c\.yaml:3: pretrain\.epochs: expected int, got 'two'"),
    ("pretrain:\n  lr: [0.1\n  epochs: 2\n", r"c\.yaml:3: not valid YAML"),
    ("data:\n  num_segmentz: 4\n", r"c\.yaml:2: unknown key 'data\.num_segmentz'"),
])
def test_yaml_errors_name_file_line_and_key(synth_root, tmp_path, capsys, text, match):
    (tmp_path / "c.yaml").write_text(text)
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--config", str(tmp_path / "c.yaml"),
           match=match)


def test_set_takes_every_float_spelling(synth_root, tmp_path, capsys):
    rc, out, _ = _run(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", "pretrain.lr=1e-3")
    assert rc == 0
    saved = (Path(json.loads(out)["run_dir"]) / "config.yaml").read_text()
    assert "lr: 0.001" in saved


def test_corrupt_checkpoints_and_init_files(synth_root, finished, tmp_path, capsys):
    data = (finished / "A" / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"\x80\x04\x95junk" * 50)
    for name in ("cut.pt", "junk.pt"):
        last = _fails(capsys, "evaluate", str(tmp_path / name),
                      match=f"{name} is not a dtgkit checkpoint \\(truncated or corrupt")
        assert "weights_only" not in last
        last = _fails(capsys, "finetune", *_args(synth_root, tmp_path), "--init",
                      str(tmp_path / name), match=f"{name} is not a dtgkit checkpoint")
        last = _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set",
                      f"model.init={tmp_path / name}", match=f"{name} is not a weights file")
        assert "weights_only" not in last and "KeyError" not in last


def test_unwritable_output_is_one_line_naming_the_path(synth_root, tmp_path, capsys):
    (tmp_path / "file").write_text("a regular file")
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set",
           f"run.out_dir={tmp_path / 'file' / 'runs'}", match=r"file is a file, not a folder")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set",
               f"run.out_dir={locked}", match="not writable")


def test_disk_full_leaves_no_temporary_file(synth_root, run_a, tmp_path, capsys, monkeypatch):
    save = torch.save

    def full(obj, f, *a, **kw):
        if hasattr(f, "write"):
            f.write(b"x" * 1000)  # half a checkpoint on disk, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(obj, f, *a, **kw)

    monkeypatch.setattr(torch, "save", full)
    fresh = tmp_path / "fresh"
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--run-dir", str(fresh),
           match=f"cannot write {re.escape(str(fresh / 'checkpoint.pt'))}: No space left on device")
    assert not list(fresh.glob("*.tmp")) and not (fresh / "checkpoint.pt").exists()
    # resuming a finished run into a full disk: the finished checkpoint stays as it was
    before = _digest(run_a)
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", "pretrain.epochs=2",
           "--overwrite", "--run-dir", str(run_a), match="No space left on device")
    (aside,) = tmp_path.glob("A.old-*")
    assert _digest(aside) == before and not list(run_a.glob("*.tmp"))


def test_ctrl_c_prints_the_exact_resume_command(synth_root, tmp_path, capsys, monkeypatch):
    original = E.Trainer.save_checkpoint

    def interrupted(self):
        original(self)
        if self.epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(E.Trainer, "save_checkpoint", interrupted)
    argv = ["pretrain", *_args(synth_root, tmp_path), "--set", "pretrain.epochs=2",
            "--run-dir", str(tmp_path / "r")]
    rc, _, err = _run(capsys, *argv)
    assert rc == 130 and "Traceback" not in err
    command = err.strip().splitlines()[-1].split("Continue exactly with: ")[1]
    assert command == shlex.join(["dtgkit", *argv, "--resume"])
    monkeypatch.setattr(E.Trainer, "save_checkpoint", original)
    rc, out, err = _run(capsys, *shlex.split(command)[1:])
    assert rc == 0 and json.loads(out)["epochs_done"] == 2


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(synth_root, tmp_path, capsys,
                                                                      monkeypatch):
    import dtgkit.train.pretrain as P

    def boom(*a, **kw):
        raise KeyError(101)

    monkeypatch.setattr(P, "build_student", boom)
    _fails(capsys, "pretrain", *_args(synth_root, tmp_path), match=r"KeyError: 101 .*--debug")
    with pytest.raises(KeyError):
        main(["pretrain", *_args(synth_root, tmp_path / "d"), "--debug"])


def test_progress_on_stderr_result_alone_on_stdout(synth_root, tmp_path, capsys):
    rc, out, err = _run(capsys, "pretrain", *_args(synth_root, tmp_path), "--set", "run.progress=true")
    assert rc == 0 and json.loads(out)["epochs_done"] == 1  # `dtgkit pretrain ... | jq` works
    assert "pretrain epoch 1/1" in err
