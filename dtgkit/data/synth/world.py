"""The SynthActions world as data: the class table, the confusable pairs, the still-image teacher
tasks, the scenes and the parameters that determine a generated set (see
:mod:`dtgkit.data.synth`)."""
from __future__ import annotations

import math
from dataclasses import dataclass

FPS = 25
META_NAME = "synth_meta.json"
#: bump when the rendering or the encoding changes, so that ensure_synth() does not reuse sets
#: made by older code. 2: RGB -> YUV 4:2:0 in exact integer maths (``rgb_to_yuv420p``) instead of
#: libswscale, whose output could change within a process (issue 11). 3: the calibrated world of
#: issue 13 (new class table, motion blur, layered scenes, still tasks per teacher, still style).
SYNTH_VERSION = 3
#: the still-image sets under ``root/stills`` (the three SynthActions teachers' tasks, the
#: ``synth:<set>`` teacher specs): BU101, Stanford40 and Places365 analogues
STILL_SETS = ("action_a", "action_b", "scenes")
RNG_STREAMS = {"videos": 0, "action_a": 1, "action_b": 2, "scenes": 3, "render_clip": 4}


@dataclass(frozen=True)
class ActionClass:
    """One row of the class table.

    Args:
        name: CamelCase class name (no underscores, as in UCF101 file names).
        motion: key of the motion program in ``render._MOTIONS``.
        obj: held object (``ball``, ``frisbee``, ``cup``, ``phone``, ``racket``, ``bat``) or None.
        reverse: play the motion backwards (the time-reversed twin of another class).
        rate: cadence multiplier of periodic motions (Hz for ``gait`` and ``clap``).
        scene: preferred scene.
        scene_bias: probability that a group uses ``scene``; None = ``SynthParams.scene_bias``;
            1.0 makes the scene part of the class (Ski is always on snow).
        still_a: label in the ``action_a`` still set (BU101 analogue), "" = not in that set.
        still_b: label in the ``action_b`` still set (Stanford40 analogue), "" = not in it.
        cue: what tells the class from its nearest neighbour in the table: ``pose``,
            ``speed`` (motion blur of a faster motion), ``scene``, ``object`` or ``reversal``.
        note: one line for the class table.
    """

    name: str
    motion: str
    obj: str | None = None
    reverse: bool = False
    rate: float = 1.0
    scene: str = "Sky"
    scene_bias: float | None = None
    still_a: str = ""
    still_b: str = ""
    cue: str = "pose"
    note: str = ""


@dataclass(frozen=True)
class ConfusablePair:
    """Two classes that differ in one factor only.

    ``kind``: ``motion`` (same frames up to what motion leaves in a frame, i.e. blur, or same
    frames in another order), ``appearance`` (same motion, another held object) or ``scene``
    (same motion, another place).
    """

    a: str
    b: str
    kind: str
    how: str


CLASSES: tuple[ActionClass, ...] = (
    # -- the default world (the first DEFAULT_CLASSES rows): no time-reversed twins
    ActionClass("Walk", "gait", rate=0.8, scene="Street", still_a="Gait", cue="speed",
                note="gait cycle 0.8 Hz"),
    ActionClass("Run", "gait", rate=2.4, scene="Street", still_a="Gait", cue="speed",
                note="Walk's gait and amplitude, 3x the cadence: blurred legs"),
    ActionClass("Clap", "clap", rate=1.2, scene="Gym", still_a="Clap", still_b="Clap",
                cue="speed", note="hands meet in front, 1.2 Hz (frontal view)"),
    ActionClass("Applaud", "clap", rate=3.6, scene="Gym", still_a="Clap", still_b="Clap",
                cue="speed", note="Clap's motion, 3x the rate: blurred hands"),
    ActionClass("Ski", "glide", scene="Snow", scene_bias=1.0, still_a="Glide", cue="scene",
                note="crouched glide, arms out; always on snow"),
    ActionClass("Surf", "glide", scene="Beach", scene_bias=1.0, still_a="Glide", cue="scene",
                note="Ski's glide; always on the beach"),
    ActionClass("Drink", "hand_to_head", "cup", scene="Night", still_a="HandToHead",
                still_b="Drink", cue="object", note="hand to head holding a cup"),
    ActionClass("Phone", "hand_to_head", "phone", scene="Night", still_a="HandToHead",
                still_b="Phone", cue="object", note="Drink's motion holding a phone"),
    ActionClass("SwingRacket", "swing", "racket", scene="Meadow", still_a="Swing",
                still_b="Swing", cue="object", note="horizontal one-arm swing, racket"),
    ActionClass("SwingBat", "swing", "bat", scene="Meadow", still_a="Swing", still_b="Swing",
                cue="object", note="SwingRacket's motion, bat"),
    ActionClass("Wave", "wave", scene="Pool", still_a="Wave", still_b="Wave",
                note="raised forearm oscillates"),
    ActionClass("Jump", "jump", scene="Sky", still_a="Jump", note="crouch, take off, arms up"),
    ActionClass("Kick", "kick", scene="Meadow", still_a="Kick", note="one leg swings up"),
    ActionClass("SitDown", "sit", scene="Gym", still_a="SitDown",
                note="hip lowers onto a chair"),
    ActionClass("Bend", "bend", scene="Snow", still_a="Bend", note="torso bends and returns"),
    ActionClass("Punch", "punch", scene="Street", still_a="Punch", still_b="Punch",
                note="fast straight jab, guard up"),
    # -- more classes (``classes`` > DEFAULT_CLASSES): time-reversed twins are for 3D students
    #    (segment averaging cannot see frame order)
    ActionClass("ThrowBall", "throw", "ball", scene="Beach", still_a="Throw",
                note="overhead throw, ball flies off"),
    ActionClass("CatchBall", "throw", "ball", reverse=True, scene="Beach", still_a="Throw",
                cue="reversal", note="ThrowBall played backwards"),
    ActionClass("StandUp", "sit", reverse=True, scene="Gym", still_a="SitDown", cue="reversal",
                note="SitDown played backwards"),
    ActionClass("SpinLeft", "spin", scene="Sky", still_a="Spin",
                note="arms out, turns about the vertical"),
    ActionClass("SpinRight", "spin", reverse=True, scene="Sky", still_a="Spin", cue="reversal",
                note="SpinLeft played backwards"),
)

#: classes of the default world: no time-reversed twin among them
DEFAULT_CLASSES = 16

CONFUSABLE_PAIRS: tuple[ConfusablePair, ...] = (
    ConfusablePair("Walk", "Run", "motion", "same gait and amplitude, Run 3x the cadence "
                   "(visible in a frame only as motion blur)"),
    ConfusablePair("Clap", "Applaud", "motion", "same clap, Applaud 3x the rate (blur)"),
    ConfusablePair("Ski", "Surf", "scene", "same glide, snow vs beach"),
    ConfusablePair("Drink", "Phone", "appearance", "same hand-to-head motion, cup vs phone"),
    ConfusablePair("SwingRacket", "SwingBat", "appearance", "same swing, racket vs bat"),
    ConfusablePair("ThrowBall", "CatchBall", "motion", "time-reversed (3D students only)"),
    ConfusablePair("SitDown", "StandUp", "motion", "time-reversed (3D students only)"),
    ConfusablePair("SpinLeft", "SpinRight", "motion", "time-reversed (3D students only)"),
)

SCENES: tuple[str, ...] = ("Sky", "Meadow", "Pool", "Gym", "Street", "Beach", "Night", "Snow")
#: how the action teachers' stills are drawn (``SynthParams.still_style``)
STILL_STYLES: tuple[str, ...] = ("video", "own")


@dataclass
class SynthParams:
    """Everything that determines the generated files (stored in ``synth_meta.json``).

    Args:
        classes: number of classes, the first rows of ``CLASSES`` (1..21). Default 16 (the
            default world, no time-reversed twins).
        videos_per_class: clips per class. Default 80.
        frames: frames per clip (25 fps). Default 32.
        size: frame height = width in px, even. Default 112.
        seed: master seed. Default 0.
        stills_per_class: images per label in each still set; a third go to test/. Default 60.
        clips_per_group: clips sharing a setting (UCF101 ``cYY`` per ``gXX``). Default 2.
        test_groups: leading groups per class in the test split; None = 40 % of the groups
            (at least 1, and at least one group left for training).
        noise: std of the Gaussian pixel noise in [0, 1] units. Default 0.02.
        speed_range: (low, high) of the uniform speed factor. Default (0.8, 1.25).
        scene_bias: probability that a group uses its class's preferred scene (classes with
            their own ``scene_bias`` keep it). Default 0.4.
        jitter: std of the camera shake in px at 112 px (scales with size; a smooth AR(1)
            process per clip). Default 1.0.
        still_sizes: sizes of (action_a, action_b, scenes) stills (a "video"-style still is a
            frame of a video of that size). Default (112, 112, 112).
        crf: H.264 constant rate factor (ignored for mpeg4). Default 23.
        shutter: exposure as a fraction of the frame interval (motion blur). Default 1.0.
        still_style: how the action teachers' stills (action_a, action_b) are drawn: "video" =
            one frame of a clip rendered exactly like the world's videos (same actor colours,
            scenes, actor size, motion blur, camera), at a moment where the action shows;
            "own" = each set's own style, as in issue 13's v2 world (action_a: pastel actors
            and re-tinted scenes; action_b: outlined close-up actors on textured backdrops).
            Why "video": calibrating the world (issue 13) found that teachers trained on the
            "own" styles score 87-96 % on their own stills but transfer poorly to the video
            frames; with "video" they still must reach >= 80 % on their own stills (premise
            1). The scenes stills do not depend on it. Default "video".
    """

    classes: int = DEFAULT_CLASSES
    videos_per_class: int = 80
    frames: int = 32
    size: int = 112
    seed: int = 0
    stills_per_class: int = 60
    clips_per_group: int = 2
    test_groups: int | None = None
    noise: float = 0.02
    speed_range: tuple[float, float] = (0.8, 1.25)
    scene_bias: float = 0.4
    jitter: float = 1.0
    still_sizes: tuple[int, int, int] = (112, 112, 112)
    crf: int = 23
    shutter: float = 1.0
    still_style: str = "video"

    def validate(self) -> None:
        if not 1 <= self.classes <= len(CLASSES):
            raise ValueError(f"classes={self.classes}: must be in 1..{len(CLASSES)}")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"size={self.size}: must be even and >= 16 (yuv420p)")
        if self.frames < 2 or self.videos_per_class < 1 or self.clips_per_group < 1:
            raise ValueError("frames >= 2, videos_per_class >= 1, clips_per_group >= 1 needed")
        lo, hi = self.speed_range
        if not 0 < lo <= hi:
            raise ValueError(f"speed_range={self.speed_range}: need 0 < low <= high")
        if self.test_groups is not None and not 0 <= self.test_groups <= self.num_groups:
            raise ValueError(f"test_groups={self.test_groups}: must be in 0..{self.num_groups}")
        if not 0 <= self.shutter <= 1:
            raise ValueError(f"shutter={self.shutter}: must be in 0..1 (a fraction of 1/fps)")
        if self.still_style not in STILL_STYLES:
            raise ValueError(f"still_style={self.still_style!r}: must be one of "
                             f"{', '.join(map(repr, STILL_STYLES))}")
        if self.num_test_groups >= self.num_groups:
            need = (self.num_test_groups + 1) * self.clips_per_group
            raise ValueError(
                f"no training videos: {self.videos_per_class} videos per class in groups of "
                f"{self.clips_per_group} (--clips-per-group) make {self.num_groups} group(s), and the "
                f"test split takes {self.num_test_groups} (--test-groups). Raise "
                f"--videos-per-class to {need} or more, or lower --clips-per-group / --test-groups")

    @property
    def num_groups(self) -> int:
        return math.ceil(self.videos_per_class / self.clips_per_group)

    @property
    def num_test_groups(self) -> int:
        if self.test_groups is not None:
            return self.test_groups
        return min(max(1, round(0.4 * self.num_groups)), max(self.num_groups - 1, 1))


#: the committed sample under data_samples/synth (see its README.md): 2 clips per class
SAMPLE_PARAMS = {"classes": DEFAULT_CLASSES, "videos_per_class": 2, "clips_per_group": 1,
                 "test_groups": 1, "frames": 32, "size": 112, "stills_per_class": 6,
                 "still_sizes": (48, 48, 48), "crf": 28}


def select_classes(n: int) -> list[ActionClass]:
    """The first ``n`` rows of the class table."""
    return list(CLASSES[:n])


def pairs_within(names: list[str] | tuple[str, ...]) -> list[ConfusablePair]:
    """The confusable pairs whose two classes are both in ``names``."""
    s = set(names)
    return [p for p in CONFUSABLE_PAIRS if p.a in s and p.b in s]


def setting_source(name: str, names: list[str] | tuple[str, ...]) -> str:
    """The class whose settings (actor, scene draw, clip nuisances) ``name``'s videos share.

    The two classes of a confusable pair are filmed in the same settings: group ``gXX`` clip
    ``cYY`` of Run shows the actor of Walk's ``gXX`` clip ``cYY`` at the same speed, place and
    camera shake, Phone the actor of Drink's, Surf the actor of Ski's (the scene itself follows
    each class's preference). Within a pair the setting then tells nothing, and only the
    pair's factor (rate, object, place) separates the two; without it a network can learn the
    pair from the settings of the training groups, which say nothing about the test groups.
    """
    src = {p.b: p.a for p in pairs_within(names)}
    seen = {name}
    while name in src and src[name] not in seen:
        name = src[name]
        seen.add(name)
    return name


def still_labels(kind: str, names: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """The labels of a still set over the classes ``names``: label -> member classes.

    ``scenes``: the 8 scenes; ``action_a`` / ``action_b``: each class's ``still_a`` /
    ``still_b`` label (classes without one are not in the set; classes a still cannot tell
    apart share a label, e.g. Walk and Run are both ``Gait``).
    """
    if kind == "scenes":
        return {s: [s] for s in SCENES}
    if kind not in ("action_a", "action_b"):
        raise ValueError(f"unknown still set {kind!r}; known: {', '.join(STILL_SETS)}")
    field = "still_a" if kind == "action_a" else "still_b"
    by_name = {c.name: c for c in CLASSES}
    out: dict[str, list[str]] = {}
    for n in names:
        label = getattr(by_name[n], field)
        if label:
            out.setdefault(label, []).append(n)
    return out
