"""`dtgkit pretrain | finetune | joint | evaluate` through the real CLI entry point."""
from __future__ import annotations

import json

import yaml

from dtgkit.cli import main


def _common(synth_root, out):
    return ["--preset", "ci-tiny", "--set", f"data.root={synth_root}", "--set", f"run.out_dir={out}",
            "--set", "pretrain.epochs=1", "--set", "finetune.epochs=1"]


def test_cli_stages(synth_root, tmp_path, capsys):
    args = _common(synth_root, tmp_path)
    assert main(["pretrain", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    run = tmp_path / "ci-tiny-pretrain-dtg"
    assert out["run_dir"] == str(run) and out["epochs_done"] == 1 and out["knn"]["queries"] == 6
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["pretrain"]["epochs"] == 1 and saved["data"]["root"] == str(synth_root)

    # again without --resume: refused, naming the flag; with --resume: the stored results
    assert main(["pretrain", *args]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["pretrain", *args, "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == out["steps"]

    # a YAML file between the preset and the overrides
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("dtg:\n  method: none\nfinetune:\n  lr: 0.01\n")
    assert main(["joint", *args, "--config", str(cfg_file)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "none" and res["test"]["num_samples"] == 6

    assert main(["finetune", *args, "--init", str(run)]) == 0
    ft = json.loads(capsys.readouterr().out)
    assert ft["init"] == str(run) and set(ft["test"]) >= {"acc1", "acc5", "mAP", "mean_class_acc"}

    assert main(["evaluate", ft["run_dir"], "--no-linear"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["linear_probe"] is None and ev["classifier"]["num_samples"] == 6


def test_cli_errors(synth_root, tmp_path, capsys):
    args = _common(synth_root, tmp_path)
    assert main(["pretrain", *args, "--set", "pretrain.lr=abc"]) == 1
    assert "pretrain.lr" in capsys.readouterr().err
    assert main(["pretrain", *args, "--set", "data.root=/nonexistent/x"]) == 1
    assert "/nonexistent/x" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["finetune", *args, "--init", str(tmp_path / "nothing")]) == 1
