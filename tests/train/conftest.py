"""A tiny SynthActions set shared by the training tests (3 classes, 8 frames, 32 px)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    from dtgkit.data.synth import generate_synth_actions

    root = tmp_path_factory.mktemp("synth")
    generate_synth_actions(root, classes=3, videos_per_class=8, clips_per_group=2, test_groups=1,
                           frames=8, size=32, stills_per_class=0, progress=False)
    return root  # 18 training videos (6 per class), 6 test videos


@pytest.fixture
def tiny_cfg(synth_root, tmp_path):
    """The ci-tiny preset on the tiny set, runs under tmp_path."""
    from dtgkit.config import resolve_config

    return resolve_config("ci-tiny", overrides=[f"data.root={synth_root}", f"run.out_dir={tmp_path / 'runs'}"])


@pytest.fixture(scope="session")
def pretrained_run(synth_root, tmp_path_factory):
    """One finished ci-tiny DTG pre-training run (2 epochs), shared read-only."""
    from dtgkit.config import resolve_config
    from dtgkit.train.pretrain import pretrain

    out = tmp_path_factory.mktemp("pre")
    cfg = resolve_config("ci-tiny", overrides=[f"data.root={synth_root}", f"run.out_dir={out}",
                                               "run.eval_knn_every=1"])
    return pretrain(cfg)
