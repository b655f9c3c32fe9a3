"""dtgkit: DTG-Net (Differentiated Teachers Guided self-supervised video action recognition).

The flat public API, in data-flow order. Names are imported on first use, so
``import dtgkit`` stays cheap (torch, decord and ipywidgets load only when needed)::

    import dtgkit
    idx = dtgkit.tsn_indices(300, 8, train=True, rng=np.random.default_rng(0))
    teacher = dtgkit.create_teacher("imagenet-efficientnet-lite0")
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "dtgkit.config": ["Config", "DataConfig", "ModelConfig", "DTGConfig", "OptimConfig",
                      "RunConfig", "get_preset", "list_presets", "load_config", "resolve_config",
                      "apply_overrides", "validate"],
    "dtgkit.data.synth": ["generate_synth_actions", "ensure_synth", "sample_root", "render_clip",
                          "CLASSES", "CONFUSABLE_PAIRS"],
    "dtgkit.data.sampling": ["tsn_indices", "dense_indices", "two_view_indices", "sample_views",
                             "PAIR_MODES", "pair_statistics"],
    "dtgkit.data.video": ["open_video", "VideoDecodeError"],
    "dtgkit.data.check_videos": ["check_videos"],
    "dtgkit.data.splits": ["VideoRecord", "load_ucf101", "load_hmdb51", "load_list_file",
                           "load_class_folders", "load_records"],
    "dtgkit.data.datasets": ["ClipDataset", "PairDataset"],
    "dtgkit.data.transforms": ["clip_transform", "to_clip_tensor"],
    "dtgkit.data.clip_cache": ["ensure_clip_cache"],
    "dtgkit.models.students": ["create_student", "list_students", "register_student",
                               "StudentClassifier", "accepts_2d_init"],
    "dtgkit.models.inflate": ["inflate_2d_to_3d"],
    "dtgkit.models.heads": ["ProjectionHead", "make_heads"],
    "dtgkit.models.teachers": ["create_teacher", "list_teachers", "Teacher"],
    "dtgkit.models.teacher_training": ["train_teacher"],
    "dtgkit.models.teacher_cache": ["cache_teacher_features", "CachedGuidance", "GuidanceSource"],
    "dtgkit.dtg.queue": ["GuidanceQueue"],
    "dtgkit.dtg.losses": ["info_nce_logits", "info_nce", "info_nce_queue", "distinit_l1", "distinit_soft_ce",
                          "joint_loss"],
    "dtgkit.dtg": ["create_method", "list_methods"],
    "dtgkit.dtg.net": ["DTGNet"],
    "dtgkit.dtg.baselines": ["DistInitNet", "MoCoVideoNet"],
    "dtgkit.train.pretrain": ["pretrain"],
    "dtgkit.train.finetune": ["finetune", "joint", "evaluate"],
    "dtgkit.metrics": ["top_k_accuracy", "mean_average_precision", "mean_class_accuracy",
                       "knn_predict", "evaluate_knn", "loo_knn_accuracy", "linear_probe", "silhouette",
                       "binomial_se"],
    "dtgkit.train.evaluate": ["extract_features", "split_features", "frozen_evaluation"],
    "dtgkit.studies.calibration": ["calibrate"],
}
_MODULES = {"weighting": "dtgkit.dtg.weighting", "widgets": "dtgkit.widgets",
            "figures": "dtgkit.viz.figures"}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_WHERE, *_MODULES])  # noqa: PLE0605 - built from the export table


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'dtgkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
