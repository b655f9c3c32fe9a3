from __future__ import annotations

import pytest

from dtgkit.config import (
    Config,
    apply_overrides,
    get_preset,
    list_presets,
    load_config,
    resolve_config,
    validate,
)


def test_paper_presets_carry_paper_hyperparameters():
    for name in ("paper-ucf101-tsn-r18", "paper-hmdb51-tsn-r18"):
        c = get_preset(name)
        assert (c.pretrain.lr, c.pretrain.momentum, c.pretrain.weight_decay) == (0.1, 0.9, 5e-4)
        assert (c.pretrain.epochs, c.pretrain.milestones) == (600, [300, 500])
        assert (c.finetune.epochs, c.finetune.milestones) == (80, [30, 60])
        assert (c.dtg.alpha, c.dtg.beta) == (0.1, 1.0)
    k = get_preset("paper-kinetics-tsn-r18")
    assert (k.pretrain.epochs, k.pretrain.milestones) == (200, [100, 150])
    assert get_preset("paper-ucf101-r3d18").model.student == "r3d_18"
    assert {"cpu-demo", "ci-tiny"} <= set(list_presets())
    for name in list_presets():
        validate(get_preset(name))


def test_overrides_and_yaml_round_trip(tmp_path):
    c = resolve_config("ci-tiny", overrides=["pretrain.lr=0.2", "dtg.teachers=a,b",
                                             "data.num_segments=3", "run.amp=false"])
    assert (c.pretrain.lr, c.dtg.teachers, c.data.num_segments, c.run.amp) == (0.2, ["a", "b"], 3, False)
    c.save(tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == c


def test_yaml_file_on_top_of_its_preset(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text("preset: cpu-demo\npretrain:\n  epochs: 7\n")
    c = load_config(f)
    assert c.pretrain.epochs == 7 and c.pretrain.batch_size == get_preset("cpu-demo").pretrain.batch_size


@pytest.mark.parametrize("override, key", [
    ("pretrain.lrr=1", "pretrain.lrr"),
    ("pretrain.lr=abc", "pretrain.lr"),
    ("nosuch.x=1", "nosuch"),
    ("pretrain.epochs=two", "pretrain.epochs"),
    ("pretrain.lr=inf", "pretrain.lr"),
    ("pretrain=1", "pretrain"),
])
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        validate(apply_overrides(Config(), [override]))


def test_unknown_yaml_key_names_file_line_and_key(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("data:\n  num_segmentz: 4\n")
    with pytest.raises(ValueError, match=r"bad\.yaml:2: unknown key 'data\.num_segmentz'"):
        load_config(f)


@pytest.mark.parametrize("text, message", [
    # issue 11: values are coerced and checked like --set, naming file, line and key
    ("pretrain:\n  lr: 0.1\n  epochs: two\n", r"c\.yaml:3: pretrain\.epochs: expected int, got 'two'"),
    ("finetune:\n  milestones: [1, x]\n", r"c\.yaml:2: finetune\.milestones: expected int, got 'x'"),
    ("run:\n  amp: maybe\n", r"c\.yaml:2: run\.amp: expected bool"),
    ("data: 5\n", r"c\.yaml:1: data: expected a mapping"),
    ("- a\n- b\n", r"c\.yaml: the file: expected a mapping"),
    # a malformed file: the parser's complaint with the line, not a ParserError traceback
    ("pretrain:\n  lr: [0.1\n  epochs: 2\n", r"c\.yaml:3: not valid YAML"),
    ("pretrain:\n  lr: 0.1\n\tepochs: 3\n", r"c\.yaml:3: not valid YAML"),
    ("pretrain:\n  lr: .nan\n", r"pretrain\.lr: must be finite"),
])
def test_bad_yaml_values_name_file_line_and_key(tmp_path, text, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
        resolve_config("ci-tiny", str(f))


def test_yaml_numbers_in_every_python_spelling(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("pretrain:\n  lr: 1e-3\n  weight_decay: 5E-4\n  epochs: 3.0\n"
                 "finetune:\n  lr: '.5'\n")
    c = resolve_config("ci-tiny", str(f))
    assert (c.pretrain.lr, c.pretrain.weight_decay, c.pretrain.epochs, c.finetune.lr) == \
        (1e-3, 5e-4, 3, 0.5)
    assert isinstance(c.pretrain.epochs, int)


@pytest.mark.parametrize("value", ["1e-3", "1E-3", "1.0e-3", "0.001", ".001", "1_0e-4"])
def test_set_accepts_every_float_spelling(value):
    # config.py's own docstring example: --set pretrain.lr=1e-3 (YAML 1.1 reads it as a string)
    assert resolve_config("ci-tiny", overrides=[f"pretrain.lr={value}"]).pretrain.lr == \
        pytest.approx(1e-3)


def test_validate_checks_types_set_in_python():
    cfg = get_preset("ci-tiny")
    cfg.pretrain.lr = "1e-3"  # a notebook may do this: coerced, not a TypeError deep inside
    assert validate(cfg).pretrain.lr == 1e-3
    cfg.pretrain.epochs = "two"
    with pytest.raises(ValueError, match="pretrain.epochs: expected int"):
        validate(cfg)


@pytest.mark.parametrize("override, key", [
    ("dtg.weighting=offline", "dtg.offline_accs"),
    ("data.pair_mode=sideways", "data.pair_mode"),
    ("pretrain.batch_size=0", "pretrain.batch_size"),
    ("dtg.use_cache=true", "dtg.cache_dir"),
    ("data.fraction=0", "data.fraction"),
    ("pretrain.schedule=linear", "pretrain.schedule"),
    ("finetune.schedule=Cosine", "finetune.schedule"),
    ("dtg.distinit_l1_dims=max", "dtg.distinit_l1_dims"),
    ("dtg.cache_frame_stride=0", "dtg.cache_frame_stride"),
])
def test_impossible_configs_are_rejected_up_front(override, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")) as err:
        resolve_config("ci-tiny", overrides=[override])
    assert "\n" not in str(err.value)  # one line


def test_lab_preset_is_the_fair_short_budget():
    """The lab budget (issue 13): light student, cosine schedules, teachers from the cache at
    their own size, clip cache, baselines set for ~1,000 steps; the defaults stay the paper's."""
    lab, default = get_preset("lab"), resolve_config()
    assert lab.model.student == "tsn_r18_w16" and default.model.student == "tsn_r18"
    assert lab.pretrain.schedule == lab.finetune.schedule == "cosine"
    assert default.pretrain.schedule == default.finetune.schedule == "step"
    assert lab.dtg.use_cache and lab.dtg.cache_dir and lab.data.clip_cache
    assert not any("#size=" in t for t in lab.dtg.teachers)  # each teacher at its own size
    assert (lab.dtg.moco_momentum, lab.dtg.distinit_l1_dims) == (0.99, "sum")
    assert (default.dtg.moco_momentum, default.dtg.distinit_l1_dims) == (0.999, "mean")
    assert not default.data.clip_cache and default.dtg.cache_frame_stride == 1


def test_video_backends_match_the_video_module_and_are_checked():
    from dtgkit.config import VIDEO_BACKENDS, get_preset, validate
    from dtgkit.data.video import BACKENDS

    assert VIDEO_BACKENDS == BACKENDS
    cfg = get_preset("ci-tiny")
    cfg.data.backend = "ffmpeg"
    with pytest.raises(ValueError, match="data.backend"):
        validate(cfg)
