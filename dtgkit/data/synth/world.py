"""The SynthActions world as data: the class table, the confusable pairs, the scenes and the
parameters that determine a generated set (see :mod:`dtgkit.data.synth`)."""
from __future__ import annotations

import math
from dataclasses import dataclass

FPS = 25
META_NAME = "synth_meta.json"
#: bump when the rendering or the encoding changes, so that ensure_synth() does not reuse sets
#: made by older code. 2: RGB -> YUV 4:2:0 in exact integer maths (``rgb_to_yuv420p``) instead of
#: libswscale, whose output could change within a process (issue 11).
SYNTH_VERSION = 2
#: the still-image sets under ``root/stills`` (the three SynthActions teachers' tasks, the
#: ``synth:<set>`` teacher specs): BU101, Stanford40 and Places365 analogues
STILL_SETS = ("action_a", "action_b", "scenes")
RNG_STREAMS = {"videos": 0, "action_a": 1, "action_b": 2, "scenes": 3, "render_clip": 4}


@dataclass(frozen=True)
class ActionClass:
    """One row of the class table.

    Args:
        name: CamelCase class name (no underscores, as in UCF101 file names).
        motion: key of the motion program in ``_MOTIONS``.
        obj: held object (``ball``, ``frisbee``, ``cup``, ``phone``, ``racket``, ``bat``) or None.
        reverse: play the motion backwards (the time-reversed twin of another class).
        rate: cadence multiplier of periodic motions (Hz for ``gait``).
        scene: preferred scene (weak correlation, see ``scene_bias``).
        still_label: label in the ``action_b`` still set (merges motion-only twins).
        note: one line for the class table.
    """

    name: str
    motion: str
    obj: str | None = None
    reverse: bool = False
    rate: float = 1.0
    scene: str = "Sky"
    still_label: str = ""
    note: str = ""


@dataclass(frozen=True)
class ConfusablePair:
    """Two classes that differ in one factor only: ``kind`` is "motion" or "appearance"."""

    a: str
    b: str
    kind: str
    how: str


CLASSES: tuple[ActionClass, ...] = (
    ActionClass("Walk", "gait", rate=0.8, scene="Street", still_label="WalkRun",
                note="gait cycle 0.8 Hz"),
    ActionClass("Run", "gait", rate=1.8, scene="Street", still_label="WalkRun",
                note="same gait and amplitude as Walk, 1.8 Hz"),
    ActionClass("ThrowBall", "throw", "ball", scene="Beach", still_label="ThrowCatchBall",
                note="overhead throw, ball flies off"),
    ActionClass("CatchBall", "throw", "ball", reverse=True, scene="Beach",
                still_label="ThrowCatchBall", note="ThrowBall played backwards"),
    ActionClass("ThrowFrisbee", "throw", "frisbee", scene="Beach",
                still_label="ThrowCatchFrisbee", note="ThrowBall motion, frisbee"),
    ActionClass("CatchFrisbee", "throw", "frisbee", reverse=True, scene="Beach",
                still_label="ThrowCatchFrisbee", note="ThrowFrisbee played backwards"),
    ActionClass("Drink", "hand_to_head", "cup", scene="Night", still_label="Drink",
                note="hand to head holding a cup"),
    ActionClass("Phone", "hand_to_head", "phone", scene="Night", still_label="Phone",
                note="Drink motion holding a phone"),
    ActionClass("Wave", "wave", scene="Pool", still_label="Wave", note="raised forearm oscillates"),
    ActionClass("Jump", "jump", scene="Snow", still_label="Jump", note="crouch, take off, arms up"),
    ActionClass("SitDown", "sit", scene="Gym", still_label="SitStand",
                note="hip lowers onto a chair"),
    ActionClass("StandUp", "sit", reverse=True, scene="Gym", still_label="SitStand",
                note="SitDown played backwards"),
    ActionClass("Clap", "clap", scene="Sky", still_label="Clap", note="hands meet, frontal view"),
    ActionClass("Kick", "kick", scene="Meadow", still_label="Kick", note="one leg swings up"),
    ActionClass("Bend", "bend", scene="Snow", still_label="Bend", note="torso bends and returns"),
    ActionClass("SpinLeft", "spin", scene="Sky", still_label="Spin",
                note="arms out, turns about the vertical"),
    ActionClass("SpinRight", "spin", reverse=True, scene="Sky", still_label="Spin",
                note="SpinLeft played backwards"),
    ActionClass("SwingRacket", "swing", "racket", scene="Meadow", still_label="SwingRacket",
                note="horizontal one-arm swing, racket"),
    ActionClass("SwingBat", "swing", "bat", scene="Meadow", still_label="SwingBat",
                note="SwingRacket motion, bat"),
)

CONFUSABLE_PAIRS: tuple[ConfusablePair, ...] = (
    ConfusablePair("Walk", "Run", "motion", "same gait and amplitude, Run cycles 2.25x faster"),
    ConfusablePair("ThrowBall", "CatchBall", "motion", "time-reversed"),
    ConfusablePair("ThrowFrisbee", "CatchFrisbee", "motion", "time-reversed"),
    ConfusablePair("SitDown", "StandUp", "motion", "time-reversed"),
    ConfusablePair("SpinLeft", "SpinRight", "motion", "time-reversed (opposite turn)"),
    ConfusablePair("ThrowBall", "ThrowFrisbee", "appearance", "same throw, ball vs frisbee"),
    ConfusablePair("CatchBall", "CatchFrisbee", "appearance", "same catch, ball vs frisbee"),
    ConfusablePair("Drink", "Phone", "appearance", "same hand-to-head motion, cup vs phone"),
    ConfusablePair("SwingRacket", "SwingBat", "appearance", "same swing, racket vs bat"),
)

SCENES: tuple[str, ...] = ("Sky", "Meadow", "Pool", "Gym", "Street", "Beach", "Night", "Snow")


@dataclass
class SynthParams:
    """Everything that determines the generated files (stored in ``synth_meta.json``).

    Args:
        classes: number of classes, the first rows of ``CLASSES`` (1..19). Default 10.
        videos_per_class: clips per class. Default 40.
        frames: frames per clip (25 fps). Default 32.
        size: frame height = width in px, even. Default 112.
        seed: master seed. Default 0.
        stills_per_class: images per class in each still set; a third go to test/. Default 60.
        clips_per_group: clips sharing a setting (UCF101 ``cYY`` per ``gXX``). Default 4.
        test_groups: leading groups per class in the test split; None = 28 % (UCF101 split 1:
            7 of 25 groups), at least 1.
        noise: std of the Gaussian pixel noise in [0, 1] units. Default 0.02.
        speed_range: (low, high) of the uniform speed factor. Default (0.75, 1.33).
        scene_bias: probability that a group uses its class's preferred scene. Default 0.4.
        jitter: std of the camera shake in px at 112 px (scales with size; a smooth AR(1)
            process per clip). Default 1.0.
        still_sizes: sizes of (action_a, action_b, scenes) stills. Default (96, 64, 64).
        crf: H.264 constant rate factor (ignored for mpeg4). Default 23.
    """

    classes: int = 10
    videos_per_class: int = 40
    frames: int = 32
    size: int = 112
    seed: int = 0
    stills_per_class: int = 60
    clips_per_group: int = 4
    test_groups: int | None = None
    noise: float = 0.02
    speed_range: tuple[float, float] = (0.75, 1.33)
    scene_bias: float = 0.4
    jitter: float = 1.0
    still_sizes: tuple[int, int, int] = (96, 64, 64)
    crf: int = 23

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
        return min(max(1, round(0.28 * self.num_groups)), max(self.num_groups - 1, 1))


#: the committed sample under data_samples/synth (see its README.md)
SAMPLE_PARAMS = {"classes": 10, "videos_per_class": 4, "clips_per_group": 1, "test_groups": 2,
                 "frames": 32, "size": 112, "stills_per_class": 12, "still_sizes": (64, 48, 48),
                 "crf": 28}


def select_classes(n: int) -> list[ActionClass]:
    """The first ``n`` rows of the class table."""
    return list(CLASSES[:n])


def pairs_within(names: list[str] | tuple[str, ...]) -> list[ConfusablePair]:
    """The confusable pairs whose two classes are both in ``names``."""
    s = set(names)
    return [p for p in CONFUSABLE_PAIRS if p.a in s and p.b in s]
