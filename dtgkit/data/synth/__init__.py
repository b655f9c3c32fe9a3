"""SynthActions: a procedural action world written as real videos in UCF101 layout.

Real action datasets and most pretrained weights cannot be downloaded where dtgkit is built, so
dtgkit ships a world whose structure mirrors the paper's setting and in which its *premises*
hold (DESIGN.md, "SynthActions"; measured by ``dtgkit calibrate``,
:mod:`dtgkit.studies.calibration`): articulated stick-figure actors (torso, head, two-segment
arms and legs, optionally a held object) perform actions defined by limb motion over time, in
front of animated scenes, filmed by a jittery camera with a shutter (motion blur) and sensor
noise. Videos are H.264 (or MPEG-4) files in UCF101 layout with ``classInd.txt`` /
``trainlist01.txt`` / ``testlist01.txt``, so the loader that reads real UCF101 reads this too.
Still-image teacher tasks (ImageFolder layout) come from their own random streams: two
still-action sets (the BU101 / Stanford40 analogues) and a scene set (the Places365 analogue).

Class table (``CLASSES``; ``classes=N`` takes the first N rows; the default world is the first
``DEFAULT_CLASSES`` = 16, which hold no time-reversed twin). ``cue``: what tells a class from
its nearest neighbour, i.e. which teacher can know it (pose: the action teachers; speed: no
still teacher, only a video student; scene: the scene teacher; object: ImageNet); ``a`` /
``b``: its label in the ``action_a`` / ``action_b`` still sets:

==  ============  =============  =======  =======  ========  ==========  ==========  =====================
#   class         motion         object   scene    cue       a           b           note
==  ============  =============  =======  =======  ========  ==========  ==========  =====================
1   Walk          gait 0.8 Hz    -        Street   speed     Gait        -           speed pair with Run
2   Run           gait 2.4 Hz    -        Street   speed     Gait        -           3x cadence: blur
3   Clap          clap 1.2 Hz    -        Gym      speed     Clap        Clap        speed pair
4   Applaud       clap 3.6 Hz    -        Gym      speed     Clap        Clap        3x rate: blur
5   Ski           glide          -        Snow     scene     Glide       -           always on snow
6   Surf          glide          -        Beach    scene     Glide       -           always on a beach
7   Drink         hand to head   cup      Night    object    HandToHead  Drink       object pair
8   Phone         hand to head   phone    Night    object    HandToHead  Phone       other object
9   SwingRacket   swing          racket   Meadow   object    Swing       Swing       object pair
10  SwingBat      swing          bat      Meadow   object    Swing       Swing       other object
11  Wave          wave           -        Pool     pose      Wave        Wave
12  Jump          jump           -        Sky      pose      Jump        -
13  Kick          kick           -        Meadow   pose      Kick        -
14  SitDown       sit            chair    Gym      pose      SitDown     -
15  Bend          bend           -        Snow     pose      Bend        -
16  Punch         punch          -        Street   pose      Punch       Punch
17  ThrowBall     throw          ball     Beach    pose      Throw       -           (3D students)
18  CatchBall     throw reversed ball     Beach    reversal  Throw       -           ThrowBall backwards
19  StandUp       sit reversed   chair    Gym      reversal  SitDown     -           SitDown backwards
20  SpinLeft      spin           -        Sky      pose      Spin        -
21  SpinRight     spin reversed  -        Sky      reversal  Spin        -           SpinLeft backwards
==  ============  =============  =======  =======  ========  ==========  ==========  =====================

``CONFUSABLE_PAIRS`` lists the pairs as data. *Speed pairs* (Walk/Run, Clap/Applaud; kind
``motion``) share gait or clap, amplitude, object and scene and differ only in rate: single
frames have the same pose distribution, and a frame shows the rate only as motion blur, which
a TSN student can learn and the still teachers (trained with blur as a nuisance, their labels
merging the pair) do not use. *Time-reversed twins* (ThrowBall/CatchBall, SitDown/StandUp,
SpinLeft/SpinRight) have exactly the same frames in the opposite order: invisible to TSN's
segment averaging, they are rows beyond the default world, for 3D students. *Appearance pairs*
(Drink/Phone, SwingRacket/SwingBat) share the motion and differ in the held object; the *scene
pair* (Ski/Surf) shares the motion and differs only in where it happens. The members of a pair
share their preferred scene (Ski and Surf excepted) and are filmed in the same settings
(``setting_source``: Run's group ``gXX`` clip ``cYY`` has the actor, speed, place and camera
shake of Walk's), so nothing but the pair's own factor tells the two apart.

Nuisances: 8 animated scenes (``SCENES``; each class prefers one with probability
``scene_bias``, else uniform; Ski and Surf always have theirs), actor colours and size,
position, speed (``speed_range``), facing direction and yaw, action start time, camera jitter
(``jitter`` px at 112 px), motion blur (``shutter``) and Gaussian noise (``noise``). Videos come
in groups ``gXX`` of ``clips_per_group`` clips sharing a setting (scene, actor appearance and
size); the first ``test_groups`` groups of every class form the test split, like UCF101 split
1. Everything is a pure function of ``seed``: the same seed gives the same split files and the
same decoded pixels.

Still sets under ``root/stills`` (``train/`` and ``test/``, one folder per label; a still is one
frame of a clip of its class, at a moment where the action shows):

* ``action_a`` (BU101 analogue): every class, the labels merging what a still cannot separate
  (speed pairs, Ski/Surf, the object pairs: ``ActionClass.still_a``), ``still_sizes[0]`` px.
* ``action_b`` (Stanford40 analogue): arm and object actions only (``still_b``: Clap, Drink,
  Phone, Swing, Wave, Punch), ``still_sizes[1]`` px.
* ``scenes`` (Places analogue): empty animated scenes at a random time, ``still_sizes[2]`` px.

How the action stills are drawn is ``still_style``: ``"video"`` (default) draws them exactly like
the video frames (actor colours, scenes, actor size, motion blur, camera shake); ``"own"`` gives
each set a style of its own (``action_a``: pastel actors and re-tinted scenes; ``action_b``:
cartoon style, outlined close-up actors on textured backdrops). Teachers trained on the own
styles scored 87-96 % on their stills but transferred poorly to the video frames (issue 13).

Layout: :mod:`~dtgkit.data.synth.world` (class table, scenes, still tasks, parameters),
:mod:`~dtgkit.data.synth.render` (motion, scenes, actor, camera) and this module (files,
splits, still sets, ``ensure_synth``, ``dtgkit synth``).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import sys
import time
import typing
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from dtgkit.data.synth.render import (
    class_by_name,
    draw_setting,
    plan_clip,
    render_clip,
    render_frames,
    scene_frames,
    texture_rgb,
)
from dtgkit.data.synth.world import (
    CLASSES,
    CONFUSABLE_PAIRS,
    DEFAULT_CLASSES,
    FPS,
    META_NAME,
    RNG_STREAMS,
    SAMPLE_PARAMS,
    SCENES,
    STILL_SETS,
    SYNTH_VERSION,
    ActionClass,
    ConfusablePair,
    SynthParams,
    pairs_within,
    select_classes,
    setting_source,
    still_labels,
)

__all__ = [
    "CLASSES", "CONFUSABLE_PAIRS", "DEFAULT_CLASSES", "FPS", "META_NAME", "SAMPLE_PARAMS",
    "SCENES", "STILL_SETS", "SYNTH_VERSION", "ActionClass", "ConfusablePair", "SynthParams",
    "add_cli", "ensure_synth", "generate_synth_actions", "load_meta", "pairs_within",
    "pick_codec", "render_clip", "rgb_to_yuv420p", "sample_root", "scene_frames",
    "select_classes", "setting_source", "still_labels", "write_video",
]

# ----------------------------------------------------------------------------------- files
def pick_codec() -> str:
    """``libx264`` when PyAV can encode with it, else ``mpeg4``."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # noqa: BLE001 - any failure means: not usable here
        return "mpeg4"


def rgb_to_yuv420p(frames: np.ndarray) -> np.ndarray:
    """RGB frames -> planar YUV 4:2:0 (ITU-R BT.601, limited range), in exact integer maths.

    The 8-bit BT.601 matrix of FFmpeg's ``rgb2yuv`` (Y = (66 R + 129 G + 25 B + 128) >> 8 + 16,
    ...); chroma from the sum of each 2 x 2 block (centred siting). Done here rather than by
    libswscale so that the bytes handed to the encoder depend on nothing but the pixels: no
    CPU-specific SIMD kernel, no thread pool, no memory past the end of a row.

    Args:
        frames: uint8 T x H x W x 3 RGB, H and W even.

    Returns:
        uint8 T x (H * 3 / 2) x W: per frame the Y plane, then U and V (each H/2 x W/2), one
        after the other in memory, the layout ``av.VideoFrame.from_ndarray(..., "yuv420p")`` reads.
    """
    T, H, W, _ = frames.shape
    rgb = frames.astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]  # T x H x W
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    q = rgb.reshape(T, H // 2, 2, W // 2, 2, 3).sum((2, 4))  # T x H/2 x W/2 x 3, 2 x 2 sums
    rs, gs, bs = q[..., 0], q[..., 1], q[..., 2]
    u = ((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128
    planes = [y.reshape(T, -1), u.reshape(T, -1), v.reshape(T, -1)]
    return np.concatenate(planes, 1).reshape(T, H * 3 // 2, W).astype(np.uint8)


def write_video(
    path: str | Path, frames: np.ndarray, codec: str = "libx264", crf: int = 23, fps: int = FPS
) -> None:
    """Encode uint8 T x H x W x 3 RGB frames (H, W even) as a yuv420p mp4.

    The colour conversion is :func:`rgb_to_yuv420p` and the encoder runs on one thread without
    its assembly kernels (x264 ``asm=0``), so the file's bytes are a function of the frames
    alone (not of the thread count, the CPU's SIMD level or what ran before in the process).
    Written to a temporary name, then renamed.

    Why ``asm=0``: on a CPU with AVX-512 (seen on an Intel Xeon with PyAV 16.1, 17.1 and 18.1)
    x264's SIMD path wrote a different stream for the same frames about once in 25 encodes
    (decoded pixels up to 47 levels apart), and x264's kernels make different encoding choices
    on CPUs with different SIMD levels, so no SIMD path gives the same bytes everywhere. The C
    path costs ~40 % more encoding time (about 15 % of generating a clip).
    """
    import av

    _, H, W, _ = frames.shape
    yuv = rgb_to_yuv420p(frames)  # T x 3H/2 x W
    tmp = Path(str(path) + ".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": "asm=0"}
        else:
            stream.bit_rate = 400_000
        for f in yuv:  # already the encoder's pixel format and size: PyAV does not reformat
            for pkt in stream.encode(av.VideoFrame.from_ndarray(f, format="yuv420p")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    os.replace(tmp, path)


def _save_png(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img).save(path, compress_level=9)


def _video_job(job: tuple) -> tuple[str, int]:
    root, p, ci, g, c, codec = job
    cls = CLASSES[ci]
    names = [k.name for k in select_classes(p.classes)]
    si = names.index(setting_source(cls.name, names))  # a pair shares its settings
    st = draw_setting(
        cls, np.random.default_rng([p.seed, RNG_STREAMS["videos"], si, g]), p.scene_bias, "video"
    )
    rng = np.random.default_rng([p.seed, RNG_STREAMS["videos"], si, g, c])
    plan = plan_clip(cls, st, rng, p.frames, p.size, tuple(p.speed_range), p.jitter,
                     shutter=p.shutter)
    frames = render_frames(plan, st, np.arange(p.frames), p.noise, rng)
    rel = f"{cls.name}/v_{cls.name}_g{g:02d}_c{c:02d}.mp4"
    write_video(Path(root) / "videos" / rel, frames, codec, p.crf)
    return rel, g


#: the action stills' own random stream in the "video" still style (appended to the key of the
#: "own" style, whose stills therefore stay what they were)
_VIDEO_STILL_KEY = 77


def _action_frame(plan: dict, rng: np.random.Generator) -> np.ndarray:
    """A random frame of ``plan`` where the action shows (frame 16 if it never does)."""
    pick = np.flatnonzero(plan["active"])
    return np.array([int(rng.choice(pick)) if len(pick) else 16])


def _still_job(job: tuple) -> str:
    root, p, kind, label, members, i, split = job
    n_test = p.stills_per_class // 3
    j = i if split == "train" else p.stills_per_class - n_test + i
    key = [p.seed, RNG_STREAMS[kind], _label_id(kind, label), j]
    size = p.still_sizes[STILL_SETS.index(kind)]
    if kind == "scenes":  # an empty scene at a random time, slightly shifted
        rng = np.random.default_rng(key)
        st = draw_setting(CLASSES[0], rng, 0.0, "video")  # tint, phase, horizon
        shift = rng.normal(0, 2, (1, 2))
        t = np.array([rng.uniform(0, 20)])
        img = scene_frames(label, size, t, shift, st)  # 1 x H x W x 3
        img = img + np.float32(p.noise) * rng.standard_normal(img.shape, dtype=np.float32)
        img = np.round(np.clip(img[0], 0, 1) * 255).astype(np.uint8)
    else:  # one frame of a clip at a moment of action, drawn like the videos or in the set's style
        video = p.still_style == "video"
        style = "video" if video else kind
        rng = np.random.default_rng([*key, _VIDEO_STILL_KEY] if video else key)
        cls = class_by_name(members[j % len(members)])
        st = draw_setting(cls, rng, p.scene_bias, style)
        plan = plan_clip(cls, st, rng, 32, size, tuple(p.speed_range), p.jitter if video else 0.0,
                         style, shutter=p.shutter)
        f = _action_frame(plan, rng)
        backdrop = None
        if style == "action_b":  # "own" style: a textured backdrop instead of a scene
            grid = (np.arange(size, dtype=np.float32) + 0.5) / size
            backdrop = texture_rgb(grid[None, :], grid[:, None], rng)
        img = render_frames(plan, st, f, p.noise, rng, backdrop)[0]
    rel = f"stills/{kind}/{split}/{label}/{label}_{j:04d}.png"
    _save_png(Path(root) / rel, img)
    return rel


def _label_id(kind: str, label: str) -> int:
    return sum(ord(ch) * (31**k) for k, ch in enumerate(label)) % (2**31)


def _run(fn, jobs: list, workers: int, progress: bool, desc: str) -> list:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, unit="file")
    out = []
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for r in pool.imap(fn, jobs, chunksize=4):
                out.append(r), bar.update()
    else:
        for j in jobs:
            out.append(fn(j)), bar.update()
    bar.close()
    return out


def _meta_params(p: SynthParams) -> dict:
    return json.loads(json.dumps(asdict(p)))


def generate_synth_actions(
    root: str | Path,
    *,
    classes: int = DEFAULT_CLASSES,
    videos_per_class: int = 80,
    frames: int = 32,
    size: int = 112,
    seed: int = 0,
    stills_per_class: int = 60,
    progress: bool = True,
    workers: int | None = None,
    **knobs: Any,
) -> dict:
    """Write the SynthActions world under ``root`` (videos, UCF101 split files, still sets).

    Layout: ``root/videos/<Class>/v_<Class>_gXX_cYY.mp4``; ``root/splits/classInd.txt`` (1-based),
    ``trainlist01.txt`` (``Class/v_..mp4 label``), ``testlist01.txt`` (paths only);
    ``root/stills/{action_a,action_b,scenes}/{train,test}/<Class>/*.png``; ``root/synth_meta.json``
    (params, class table, counts; written last, so its presence means the set is complete).

    Args:
        root: output folder. Folders written by an earlier SynthActions run are replaced; other
            content is an error.
        classes, videos_per_class, frames, size, seed, stills_per_class: see ``SynthParams``.
        progress: show tqdm bars.
        workers: processes for rendering/encoding; None = all CPUs up to 8. The output does
            not depend on it (every file has its own seed).
        **knobs: the other ``SynthParams`` fields (noise, speed_range, scene_bias, jitter,
            clips_per_group, test_groups, still_sizes, crf, shutter, still_style).

    Returns:
        Summary dict: root, codec, seconds, class names, counts of train/test videos and stills.
    """
    unknown = set(knobs) - set(SynthParams.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown SynthActions parameter(s): {', '.join(sorted(unknown))}")
    p = SynthParams(
        classes=classes,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        stills_per_class=stills_per_class,
        **knobs,
    )
    p.speed_range, p.still_sizes = tuple(p.speed_range), tuple(p.still_sizes)
    p.validate()
    root = Path(root)
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    start = time.perf_counter()
    _prepare(root)
    codec, names = pick_codec(), [c.name for c in select_classes(p.classes)]
    for n in names:
        (root / "videos" / n).mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(root), p, ci, v // p.clips_per_group + 1, v % p.clips_per_group + 1, codec)
        for ci in range(p.classes)
        for v in range(p.videos_per_class)
    ]
    vids = _run(_video_job, jobs, workers, progress, "synth videos")
    test_groups = p.num_test_groups
    (root / "splits").mkdir(exist_ok=True)
    _write_lines(root / "splits" / "classInd.txt", [f"{i + 1} {n}" for i, n in enumerate(names)])
    label = {n: i + 1 for i, n in enumerate(names)}
    train = [f"{rel} {label[rel.split('/')[0]]}" for rel, g in vids if g > test_groups]
    test = [rel for rel, g in vids if g <= test_groups]
    _write_lines(root / "splits" / "trainlist01.txt", train)
    _write_lines(root / "splits" / "testlist01.txt", test)
    stills: dict[str, dict] = {}
    n_test = p.stills_per_class // 3
    sjobs = []
    for kind in STILL_SETS:
        labels = still_labels(kind, names)
        for split, n in (("train", p.stills_per_class - n_test), ("test", n_test)):
            for lab, members in labels.items():
                if n:  # no empty class folders: ImageFolder readers reject them
                    (root / "stills" / kind / split / lab).mkdir(parents=True, exist_ok=True)
                sjobs += [(str(root), p, kind, lab, members, i, split) for i in range(n)]
        stills[kind] = {
            "classes": list(labels),
            "members": labels,
            "train": len(labels) * (p.stills_per_class - n_test),
            "test": len(labels) * n_test,
            "size": p.still_sizes[STILL_SETS.index(kind)],
        }
    if p.stills_per_class > 0:
        _run(_still_job, sjobs, workers, progress, "synth stills")
    meta = {
        "version": SYNTH_VERSION,
        "params": _meta_params(p),
        "codec": codec,
        "fps": FPS,
        "classes": [asdict(c) for c in select_classes(p.classes)],
        "confusable_pairs": [asdict(q) for q in pairs_within(names)],
        "scenes": list(SCENES),
        "counts": {
            "train": len(train),
            "test": len(test),
            "groups": p.num_groups,
            "test_groups": test_groups,
        },
        "stills": stills,
    }
    (root / META_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    (root / ".synth_incomplete").unlink(missing_ok=True)
    return {
        "root": str(root),
        "codec": codec,
        "seconds": round(time.perf_counter() - start, 1),
        "cached": False,
        "classes": names,
        "train": len(train),
        "test": len(test),
        "stills": {k: {"train": v["train"], "test": v["test"]} for k, v in stills.items()},
    }


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def _prepare(root: Path) -> None:
    """Clear what an earlier run wrote; refuse to mix with foreign content."""
    ours = ("videos", "splits", "stills")
    marker = root / ".synth_incomplete"
    if (root / META_NAME).exists() or marker.exists():
        for d in ours:
            shutil.rmtree(root / d, ignore_errors=True)
        (root / META_NAME).unlink(missing_ok=True)
    else:
        for d in ours:
            if (root / d).exists() and any((root / d).iterdir()):
                raise ValueError(
                    f"{root / d} exists and was not written by `dtgkit synth` "
                    f"(no {META_NAME}); choose an empty folder"
                )
    root.mkdir(parents=True, exist_ok=True)
    marker.touch()


def load_meta(root: str | Path) -> dict | None:
    """The ``synth_meta.json`` of a complete SynthActions folder, or None."""
    path = Path(root) / META_NAME
    if not path.exists() or (Path(root) / ".synth_incomplete").exists():
        return None
    return json.loads(path.read_text())


def ensure_synth(root: str | Path, *, verbose: bool = True, **kw: Any) -> dict:
    """Generate SynthActions under ``root`` unless a complete set with the same params (and the
    same ``SYNTH_VERSION``) is there.

    Args:
        root: output folder.
        verbose: print which was used (cached or generated).
        **kw: arguments of ``generate_synth_actions``.

    Returns:
        The summary dict, with ``cached`` True when the existing files were used.
    """
    run_kw = {k: kw.pop(k) for k in ("progress", "workers") if k in kw}
    p = SynthParams(**kw)
    p.speed_range, p.still_sizes = tuple(p.speed_range), tuple(p.still_sizes)
    p.validate()
    meta = load_meta(root)
    if (
        meta is not None
        and meta.get("version") == SYNTH_VERSION
        and meta["params"] == _meta_params(p)
    ):
        if verbose:
            print(f"SynthActions: using cached set at {root} ({META_NAME} params match)",
                  file=sys.stderr)
        c = meta["counts"]
        return {
            "root": str(root),
            "codec": meta["codec"],
            "seconds": 0.0,
            "cached": True,
            "classes": [x["name"] for x in meta["classes"]],
            "train": c["train"],
            "test": c["test"],
            "stills": {
                k: {"train": v["train"], "test": v["test"]} for k, v in meta["stills"].items()
            },
        }
    if verbose:
        why = "no complete set" if meta is None else "params or SYNTH_VERSION differ"
        print(f"SynthActions: generating at {root} ({why})", file=sys.stderr)
    return generate_synth_actions(root, **asdict(p), **run_kw)


def sample_root() -> Path:
    """Absolute path of the committed sample ``data_samples/synth`` in the repository."""
    return Path(__file__).resolve().parents[3] / "data_samples" / "synth"


# ----------------------------------------------------------------------------------- CLI
def param_help() -> dict[str, str]:
    """Each :class:`SynthParams` field -> its help text, from the class docstring's ``Args:``
    (the one place the parameters are described), without its ``Default ...`` sentence."""
    doc = inspect.cleandoc(SynthParams.__doc__ or "")
    args = doc.split("Args:", 1)[1] if "Args:" in doc else ""
    out: dict[str, str] = {}
    name = None
    for line in args.splitlines():
        m = re.match(r"^    (\w+): (.*)$", line)
        if m:
            name = m.group(1)
            out[name] = m.group(2).strip()
        elif name and line.startswith("        "):
            out[name] += " " + line.strip()
    return {k: re.sub(r"\s*Default\b.*$", "", v).replace("``", "").strip() for k, v in out.items()}


_METAVARS = {"speed_range": ("LO", "HI"), "still_sizes": ("A", "B", "SCENES")}


def add_cli(subparsers: Any) -> None:
    """Add ``dtgkit synth ROOT [...]``: one flag per :class:`SynthParams` field, with its help
    and default."""
    sp = subparsers.add_parser(
        "synth",
        help="generate the SynthActions world (videos + stills)",
        description=generate_synth_actions.__doc__.split("\n")[0],
    )
    sp.add_argument("root", help="output folder (UCF101 layout: videos/, splits/, stills/)")
    helps, hints = param_help(), typing.get_type_hints(SynthParams)
    for f in fields(SynthParams):
        hint = hints[f.name]
        text = helps.get(f.name, "").replace("%", "%%").rstrip(".")
        kw: dict[str, Any] = {"default": f.default, "help": f"{text} (default %(default)s)"}
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple:
            kw.update(type=args[0], nargs=len(args), metavar=_METAVARS.get(f.name),
                      help=f"{text} (default {' '.join(map(str, f.default))})")
        else:
            kw["type"] = next((a for a in args if a is not type(None)), hint) if args else hint
        if f.default is None:  # the docstring says what None means
            kw["help"] = text.replace("None = ", "default: ")
        sp.add_argument(f"--{f.name.replace('_', '-')}", **kw)
    sp.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes (default: all CPUs up to 8; output does not depend on it)",
    )
    sp.add_argument("--force", action="store_true", help="regenerate even if a matching set exists")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    kw = {f.name: getattr(args, f.name) for f in fields(SynthParams)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
    run = {"progress": not args.no_progress, "workers": args.workers}
    if args.force:
        summary = generate_synth_actions(args.root, **kw, **run)
    else:
        summary = ensure_synth(args.root, **kw, **run)
    print(json.dumps(summary))
    return 0
