"""SynthActions: a procedural action world written as real videos in UCF101 layout.

Real action datasets and most pretrained weights cannot be downloaded where dtgkit is built, so
dtgkit ships a small world whose structure mirrors the paper's setting (DESIGN.md,
"SynthActions"): articulated stick-figure actors (torso, head, two-segment arms and legs,
optionally a held object) perform actions defined by limb motion over time, in front of animated
scenes, filmed by a jittery camera with sensor noise. Videos are H.264 (or MPEG-4) files in
UCF101 layout with ``classInd.txt`` / ``trainlist01.txt`` / ``testlist01.txt``, so the loader
that reads real UCF101 reads this too. Still-image teacher tasks (ImageFolder layout) come from
disjoint seeds: two still-action sets (the BU101 / Stanford40 analogues) and a scene set (the
Places365 analogue).

Class table (``CLASSES``; ``classes=N`` takes the first N rows, N <= 19; the default 10 hold 3
motion-only and 3 appearance-only pairs):

==  ============  =============  ========  ========  ==========================================
#   class         motion         object    scene     note
==  ============  =============  ========  ========  ==========================================
1   Walk          gait 0.8 Hz    -         Street    motion-only pair with Run
2   Run           gait 1.8 Hz    -         Street    same gait and amplitude, 2.25x cadence
3   ThrowBall     throw          ball      Beach     overhead throw, ball flies off
4   CatchBall     throw reversed ball      Beach     = ThrowBall played backwards
5   ThrowFrisbee  throw          frisbee   Beach     = ThrowBall motion, other object
6   CatchFrisbee  throw reversed frisbee   Beach     = ThrowFrisbee backwards
7   Drink         hand to head   cup       Night     appearance-only pair with Phone
8   Phone         hand to head   phone     Night     same motion, other object
9   Wave          wave           -         Pool      raised forearm oscillates
10  Jump          jump           -         Snow      crouch, take off, arms up
11  SitDown       sit            - (chair) Gym       hip lowers onto a chair
12  StandUp       sit reversed   - (chair) Gym       = SitDown backwards
13  Clap          clap           -         Sky       hands meet in front (frontal view)
14  Kick          kick           -         Meadow    one leg swings up
15  Bend          bend           -         Snow      torso bends forward and back
16  SpinLeft      spin           -         Sky       arms out, turns about the vertical
17  SpinRight     spin reversed  -         Sky       = SpinLeft backwards
18  SwingRacket   swing          racket    Meadow    horizontal one-arm swing
19  SwingBat      swing          bat       Meadow    same swing, other object
==  ============  =============  ========  ========  ==========================================

``CONFUSABLE_PAIRS`` lists them as data. Motion-only pairs (Walk/Run, ThrowBall/CatchBall,
ThrowFrisbee/CatchFrisbee, SitDown/StandUp, SpinLeft/SpinRight) have the same distribution of
single frames and differ only in the order or rate of frames: a per-frame (image) model cannot
tell them apart. Appearance-only pairs (ThrowBall/ThrowFrisbee, CatchBall/CatchFrisbee,
Drink/Phone, SwingRacket/SwingBat) share the motion exactly and differ in the held object.
The members of a pair share their preferred scene, so the scene gives no hint within a pair.

Nuisances: 8 animated scenes (``SCENES``; each class prefers one with probability
``scene_bias``, else uniform), actor colours and size, position, speed (``speed_range``),
facing direction and yaw, action start time, camera jitter (``jitter`` px at 112 px) and
Gaussian noise (``noise``). Videos come in groups ``gXX`` of ``clips_per_group`` clips sharing a
setting (scene, actor appearance and size); the first ``test_groups`` groups of every class form
the test split, like UCF101 split 1. Everything is a pure function of ``seed``: the same seed
gives the same split files and the same decoded pixels.

Still sets under ``root/stills`` (``train/`` and ``test/``, one folder per class):

* ``action_a`` (BU101 analogue): one mid-action frame per image, the video class names,
  other actor colours (pastel) and re-tinted scenes, ``still_sizes[0]`` px.
* ``action_b`` (Stanford40 analogue): cartoon style (outlined figures, close-up actors, textured
  backgrounds), ``still_sizes[1]`` px, labels that merge what no still can separate
  (``ActionClass.still_label``: WalkRun, ThrowCatchBall, ...).
* ``scenes`` (Places analogue): empty animated scenes at a random time, ``still_sizes[2]`` px.
"""
from __future__ import annotations

import argparse
import colorsys
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

FPS = 25
META_NAME = "synth_meta.json"
#: bump when the rendering changes, so that ensure_synth() does not reuse sets made by older code
SYNTH_VERSION = 1
_STREAM = {"videos": 0, "action_a": 1, "action_b": 2, "scenes": 3, "render_clip": 4}


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


def _smooth(a: float, b: float, x: np.ndarray) -> np.ndarray:
    u = np.clip((x - a) / (b - a), 0.0, 1.0)
    return u * u * (3 - 2 * u)


# ----------------------------------------------------------------------------------- motion
# Body frame: (fwd, up, lat) in units of body height (bh). Limb directions are absolute unit
# vectors; side 0 = near (lat > 0), side 1 = far.
_THIGH, _SHIN, _TORSO, _UARM, _FARM = 0.25, 0.25, 0.30, 0.16, 0.15
_HEAD_UP, _SHOULDER_AT, _HIP_HALF, _SHOULDER_HALF = 0.39, 0.27, 0.045, 0.08
_SIDE = np.array([1.0, -1.0])


def _d(theta: Any, phi: Any = 0.0) -> np.ndarray:
    """Unit vector at sagittal angle ``theta`` from straight down (forward positive), lateral
    angle ``phi``; broadcast -> (..., 3)."""
    theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
    return np.stack([np.sin(theta) * np.cos(phi), -np.cos(theta) * np.cos(phi), np.sin(phi)], -1)


def _rest(T: int) -> dict[str, np.ndarray]:
    z = np.zeros(T)
    pose = {
        "lean": z + 0.03,
        "yaw": z.copy(),
        "fwd": z.copy(),
        "lift": z.copy(),
        "active": np.ones(T, bool),
        "release": None,
        "chair": False,
    }
    pose["arm_u"] = np.stack([_d(z + 0.08, s * 0.12) for s in _SIDE])  # 2 x T x 3
    pose["arm_f"] = np.stack([_d(z + 0.25, s * 0.12) for s in _SIDE])
    pose["leg_u"] = np.stack([_d(z, s * 0.06) for s in _SIDE])
    pose["leg_l"] = np.stack([_d(z, s * 0.06) for s in _SIDE])
    return pose


def _window(T: int, dur_s: float, speed: float, rng: np.random.Generator) -> np.ndarray:
    """Progress p in [0, 1] of a one-shot action; the start is uniform over a range symmetric
    under time reversal, so a reversed clip has the same distribution as a forward one."""
    dur = min(dur_s * FPS / speed, T - 1.0)
    t0 = rng.uniform(0.0, T - 1.0 - dur)
    return np.clip((np.arange(T) - t0) / dur, 0.0, 1.0)


def _phase(T: int, hz: float, rng: np.random.Generator) -> np.ndarray:
    return 2 * np.pi * hz * np.arange(T) / FPS + rng.uniform(0, 2 * np.pi)


def _m_gait(T, speed, rate, rng):
    pose, ph = _rest(T), _phase(T, rate * speed, rng)
    for s, sgn in enumerate((1.0, -1.0)):
        swing = sgn * np.sin(ph)
        flex = 0.8 * np.clip(sgn * np.cos(ph), 0, 1) ** 1.5
        pose["leg_u"][s] = _d(0.45 * swing, _SIDE[s] * 0.06)
        pose["leg_l"][s] = _d(0.45 * swing - flex, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(-0.5 * swing, _SIDE[s] * 0.12)
        pose["arm_f"][s] = _d(-0.5 * swing + 0.35, _SIDE[s] * 0.12)
    pose["fwd"] = 0.35 * rate * speed * np.arange(T) / FPS
    return pose


def _m_throw(T, speed, rate, rng):
    pose, p = _rest(T), _window(T, 1.0, speed, rng)
    wind, swing, follow = _smooth(0, 0.4, p), _smooth(0.4, 0.7, p), _smooth(0.7, 1.0, p)
    tu = 0.1 - 2.1 * wind - 2.3 * swing - 1.0 * follow  # unwrapped, overhead
    pose["arm_u"][0] = _d(tu, 0.12)
    pose["arm_f"][0] = _d(tu - 1.3 * wind * (1 - swing), 0.12)
    pose["arm_u"][1] = _d(0.08 + 0.9 * wind * (1 - swing), -0.12)
    pose["arm_f"][1] = _d(0.25 + 1.1 * wind * (1 - swing), -0.12)
    pose["leg_u"][0], pose["leg_u"][1] = _d(np.full(T, 0.25), 0.06), _d(np.full(T, -0.2), -0.06)
    pose["leg_l"][0], pose["leg_l"][1] = _d(np.full(T, 0.15), 0.06), _d(np.full(T, -0.2), -0.06)
    pose["lean"] = -0.12 * wind * (1 - swing) + 0.3 * swing * (1 - 0.5 * follow)
    pose["active"] = (p > 0.15) & (p < 0.9)
    pose["release"] = (int(np.argmax(p >= 0.62)), np.array([2.4, 0.9, 0.0]) * speed, -4.0)
    return pose


def _m_hand_to_head(T, speed, rate, rng):
    pose, p = _rest(T), _window(T, 1.6, speed, rng)
    u = _smooth(0, 0.3, p) - _smooth(0.7, 1.0, p)
    pose["arm_u"][0] = _d(0.1 + 0.8 * u, 0.12 - 0.1 * u)
    pose["arm_f"][0] = _d(0.25 + 2.95 * u, 0.12 - 0.1 * u)
    pose["active"] = u > 0.3
    return pose


def _m_wave(T, speed, rate, rng):
    pose, ph = _rest(T), _phase(T, 1.8 * speed, rng)
    pose["arm_u"][0] = _d(2.45 + 0.08 * np.sin(ph), 0.3)
    pose["arm_f"][0] = _d(3.0 + 0.55 * np.sin(ph), 0.3)
    return pose


def _m_jump(T, speed, rate, rng):
    pose, ph = _rest(T), _phase(T, 1.3 * speed, rng)
    air, crouch = np.clip(np.sin(ph), 0, None), np.clip(-np.sin(ph), 0, None)
    pose["lift"] = 0.2 * air
    for s in range(2):
        pose["leg_u"][s] = _d(0.8 * crouch, _SIDE[s] * 0.06)
        pose["leg_l"][s] = _d(-0.7 * crouch, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(0.08 - 0.5 * crouch + 2.6 * air, _SIDE[s] * 0.15)
        pose["arm_f"][s] = _d(0.25 - 0.4 * crouch + 2.6 * air, _SIDE[s] * 0.15)
    pose["lean"] = 0.35 * crouch
    return pose


def _m_sit(T, speed, rate, rng):
    pose, p = _rest(T), _window(T, 1.4, speed, rng)
    q = _smooth(0, 1, p)
    for s in range(2):
        pose["leg_u"][s] = _d(1.45 * q, _SIDE[s] * 0.06)
        pose["leg_l"][s] = _d(-0.05 * q, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(0.08 + 0.3 * q, _SIDE[s] * 0.12)
        pose["arm_f"][s] = _d(0.25 + 1.1 * q, _SIDE[s] * 0.12)
    pose["lean"] = 0.03 + 0.6 * np.sin(np.pi * q)
    pose["active"] = (p > 0.15) & (p < 0.85)
    pose["chair"] = True
    return pose


def _m_clap(T, speed, rate, rng):
    pose, ph = _rest(T), _phase(T, 2.2 * speed, rng)
    c = 0.5 * (1 + np.cos(ph))  # 1 = apart, 0 = together
    for s in range(2):
        pose["arm_u"][s] = _d(1.25 + 0 * c, _SIDE[s] * (0.25 + 0.35 * c))
        pose["arm_f"][s] = _d(1.5 - 0.25 * c, _SIDE[s] * (-0.93 + 1.3 * c))
    pose["yaw"] += rng.choice([-1.0, 1.0]) * rng.uniform(0.7, 1.2)
    return pose


def _m_kick(T, speed, rate, rng):
    pose, p = _rest(T), _window(T, 0.9, speed, rng)
    k = np.sin(np.pi * p)
    pose["leg_u"][0] = _d(1.3 * k**2, 0.06)
    pose["leg_l"][0] = _d(1.3 * k**2 - 1.0 * np.clip(np.sin(2 * np.pi * p), 0, None), 0.06)
    pose["leg_u"][1] = _d(np.full(T, -0.08), -0.06)
    pose["arm_u"][0], pose["arm_u"][1] = _d(-0.6 * k, 0.2), _d(0.08 + 0.7 * k, -0.2)
    pose["arm_f"][0], pose["arm_f"][1] = _d(-0.4 * k + 0.2, 0.2), _d(0.25 + 0.9 * k, -0.2)
    pose["lean"] = 0.03 - 0.25 * k
    pose["active"] = (p > 0.2) & (p < 0.8)
    return pose


def _m_bend(T, speed, rate, rng):
    pose, p = _rest(T), _window(T, 1.8, speed, rng)
    u = _smooth(0, 0.35, p) - _smooth(0.65, 1.0, p)
    pose["lean"] = 0.03 + 1.35 * u
    for s in range(2):
        pose["leg_u"][s] = _d(-0.2 * u, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(0.08 + 0.35 * u, _SIDE[s] * 0.12)
        pose["arm_f"][s] = _d(0.25 + 0.3 * u, _SIDE[s] * 0.12)
    pose["active"] = u > 0.3
    return pose


def _m_spin(T, speed, rate, rng):
    pose, ph = _rest(T), _phase(T, 0.75 * speed, rng)
    pose["yaw"] = ph
    for s in range(2):
        pose["arm_u"][s] = _d(np.full(T, 0.35), _SIDE[s] * 1.2)
        pose["arm_f"][s] = _d(np.full(T, 0.5), _SIDE[s] * 1.3)
        pose["leg_u"][s] = _d(np.zeros(T), _SIDE[s] * 0.1)
    return pose


def _m_swing(T, speed, rate, rng):
    pose, p = _rest(T), _window(T, 1.0, speed, rng)
    a = np.pi - 0.4 - (np.pi + 0.5) * _smooth(0.15, 0.75, p)  # azimuth: behind -> front-far
    e = 0.3
    pose["arm_u"][0] = np.stack(
        [np.cos(a) * np.cos(e), -np.sin(e) + 0 * a, np.sin(a) * np.cos(e)], -1
    )
    pose["arm_f"][0] = np.stack(
        [np.cos(a - 0.3) * np.cos(e), -np.sin(e) + 0 * a, np.sin(a - 0.3) * np.cos(e)], -1
    )
    pose["leg_u"][0], pose["leg_u"][1] = _d(np.full(T, 0.2), 0.08), _d(np.full(T, -0.15), -0.08)
    pose["lean"] = 0.15 + 0 * p
    pose["yaw"] += 0.5 * (_smooth(0.15, 0.75, p) - 0.5)
    pose["active"] = (p > 0.2) & (p < 0.8)
    return pose


_MOTIONS = {
    "gait": _m_gait,
    "throw": _m_throw,
    "hand_to_head": _m_hand_to_head,
    "wave": _m_wave,
    "jump": _m_jump,
    "sit": _m_sit,
    "clap": _m_clap,
    "kick": _m_kick,
    "bend": _m_bend,
    "spin": _m_spin,
    "swing": _m_swing,
}


def _kinematics(pose: dict, obj: str | None) -> tuple[list, np.ndarray]:
    """Forward kinematics -> capsules [(name, p0 T x 3, p1 T x 3, radius bh)] in the body
    frame with feet on the ground (up = 0), and yaw (T,)."""
    T = len(pose["lean"])
    hip_c = np.zeros((T, 3))
    hip_c[:, 0] = pose["fwd"]
    tdir = np.stack([np.sin(pose["lean"]), np.cos(pose["lean"]), np.zeros(T)], -1)
    lat = np.array([0.0, 0.0, 1.0])
    sh = [hip_c + _SHOULDER_AT * tdir + _SIDE[s] * _SHOULDER_HALF * lat for s in range(2)]
    hips = [hip_c + _SIDE[s] * _HIP_HALF * lat for s in range(2)]
    elbow = [sh[s] + _UARM * pose["arm_u"][s] for s in range(2)]
    hand = [elbow[s] + _FARM * pose["arm_f"][s] for s in range(2)]
    knee = [hips[s] + _THIGH * pose["leg_u"][s] for s in range(2)]
    foot = [knee[s] + _SHIN * pose["leg_l"][s] for s in range(2)]
    up = -np.minimum(foot[0][:, 1], foot[1][:, 1]) + pose["lift"]  # feet on the ground
    pts = [hip_c, *sh, *hips, *elbow, *hand, *knee, *foot]
    for p in pts:
        p[:, 1] += up
    neck, head = hip_c + _TORSO * tdir, hip_c + _HEAD_UP * tdir
    caps = []
    if pose["chair"]:  # static chair under the final sitting hip (same for SitDown / StandUp)
        k = int(np.argmax(np.abs(pose["leg_u"][0][:, 0])))  # frame with the most folded thigh
        hf, hy = hip_c[k, 0], hip_c[k, 1] - 0.06
        one = np.ones((T, 1))

        def _at(f, u):
            return one * np.array([f, u, -0.12])

        caps += [
            ("chair", _at(hf - 0.12, hy), _at(hf + 0.08, hy), 0.025),
            ("chair", _at(hf - 0.13, hy), _at(hf - 0.15, hy + 0.28), 0.022),
            ("chair", _at(hf - 0.11, hy), _at(hf - 0.11, 0.0), 0.018),
            ("chair", _at(hf + 0.07, hy), _at(hf + 0.07, 0.0), 0.018),
        ]
    for s in (1, 0):
        caps += [("pants", hips[s], knee[s], 0.042), ("pants", knee[s], foot[s], 0.036)]
    caps += [("shirt", hip_c, neck, 0.065), ("skin", head, head, 0.075)]
    for s in (1, 0):
        caps += [("shirt", sh[s], elbow[s], 0.032), ("skin", elbow[s], hand[s], 0.027)]
    for s in range(len(caps)):
        if caps[s][0] != "chair":
            name = caps[s][0] + ("_far" if np.mean(caps[s][1][:, 2]) < -0.01 else "")
            caps[s] = (name,) + caps[s][1:]
    if obj is not None:
        h, f = hand[0], pose["arm_f"][0]
        if pose["release"] is not None:  # free flight after the release frame
            k, vel, g = pose["release"]
            dt = np.clip(np.arange(T) - k, 0, None)[:, None] / FPS
            free = h[k] + 0.045 * f[k] + vel * dt + 0.5 * g * dt**2 * np.array([0, 1.0, 0])
            centre = np.where(dt > 0, free, h + 0.045 * f)
        else:
            centre = h + 0.045 * f
        ex, ey = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
        caps += {
            "ball": [("obj", centre, centre, 0.05)],
            "frisbee": [("obj", centre - 0.08 * ex, centre + 0.08 * ex, 0.02)],
            "cup": [("obj", h - 0.045 * ey, h + 0.045 * ey, 0.04)],
            "phone": [("obj", h - 0.01 * f, h + 0.09 * f, 0.018)],
            "racket": [("obj2", h, h + 0.12 * f, 0.012), ("obj", h + 0.16 * f, h + 0.26 * f, 0.05)],
            "bat": [("obj", h - 0.02 * f, h + 0.34 * f, 0.024)],
        }[obj]
    return caps, pose["yaw"]


# ----------------------------------------------------------------------------------- scenes
def _hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.modf(np.abs(np.sin(a * 12.9898 + b * 78.233) * 43758.5453))[0]


def _scene_rgb(name: str, X: np.ndarray, Y: np.ndarray, t: np.ndarray, prm: dict) -> np.ndarray:
    """Animated background. X, Y: 1 x H x W or T x H x W normalised coords (0..1, y down);
    t: T x 1 x 1 seconds. Returns T x H x W x 3 float32 in [0, 1]."""
    ph, hz = prm["phase"], prm["horizon"]
    X, Y = np.broadcast_arrays(X, Y, np.zeros_like(t))[:2]

    def mix(c0, c1, w):
        w = np.asarray(w, np.float32)[..., None]
        c0 = np.asarray(c0, np.float32)
        return c0 + (np.asarray(c1, np.float32) - c0) * w

    def sky():
        return mix((0.25, 0.45, 0.85), (0.75, 0.87, 1.0), np.clip(Y / max(hz, 0.2), 0, 1))

    below = Y > hz
    if name == "Sky":
        c = 0.6 * np.sin(7 * X + 0.4 * t + ph) * np.sin(4 * Y + 1.3 * ph) + 0.4 * np.sin(
            13 * X - 0.7 * t + 3 * Y + 2 * ph
        ) * np.sin(9 * Y + ph)
        img = mix(mix((0.25, 0.45, 0.85), (0.7, 0.85, 1.0), Y), (1, 1, 1), _smooth(0.3, 0.8, c))
    elif name == "Meadow":
        g = 0.5 + 0.5 * np.sin(70 * X + 2.5 * np.sin(2.0 * t + 9 * Y + ph))
        img = np.where(
            below[..., None], mix((0.18, 0.45, 0.12), (0.35, 0.62, 0.2), g * (Y - hz) * 2), sky()
        )
    elif name == "Pool":
        c = (np.sin(19 * X + 2.1 * t + ph) + np.sin(23 * Y - 1.7 * t + 7 * X)) ** 2 / 4
        water = mix((0.08, 0.42, 0.72), (0.55, 0.85, 0.95), c)
        lane = (np.abs(np.modf(Y * 4 + 0.01 * np.sin(9 * X + t))[0] - 0.5) < 0.02) & below
        tiles = mix((0.85, 0.88, 0.9), (0.6, 0.7, 0.75), (np.sin(60 * X) * np.sin(60 * Y) > 0.9))
        img = np.where(
            below[..., None],
            np.where(lane[..., None], np.float32(0.9) * np.array([1, 0.3, 0.3], np.float32), water),
            tiles,
        )
    elif name == "Gym":
        wall = mix((0.82, 0.76, 0.6), (0.72, 0.66, 0.52), 0.5 + 0.5 * np.sin(30 * Y))
        floor = mix((0.62, 0.42, 0.22), (0.5, 0.32, 0.15), np.abs(np.sin(25 * X + 3 * Y)) > 0.95)
        img = (
            np.where(below[..., None], floor, wall)
            * (1 + 0.06 * np.sin(2 * np.pi * 2.5 * t + ph))[..., None]
        )
    elif name == "Street":
        hgt = 0.15 + 0.25 * _hash(np.floor(X * 7 + ph), 1.0)
        bld = (Y > hz - hgt) & ~below
        road = mix((0.38, 0.38, 0.4), (0.3, 0.3, 0.32), np.clip((Y - hz) * 2, 0, 1))
        dash = (np.abs(Y - (hz + 1) / 2) < 0.012) & (np.modf(np.abs(X * 4 - 1.2 * t + ph))[0] < 0.5)
        img = np.where(
            below[..., None],
            np.where(dash[..., None], np.float32(0.95), road),
            np.where(
                bld[..., None],
                np.float32(0.25) + 0.1 * _hash(np.floor(X * 7 + ph), 2.0)[..., None],
                sky(),
            ),
        )
    elif name == "Beach":
        sea_end = hz + 0.15 + 0.02 * np.sin(8 * X + 2.0 * t + ph)
        sea = (Y > hz) & (Y < sea_end)
        foam = np.abs(Y - sea_end) < 0.015
        sand = mix((0.93, 0.83, 0.6), (0.85, 0.72, 0.48), np.clip((Y - hz) * 2, 0, 1))
        img = np.where(
            below[..., None],
            np.where(
                sea[..., None],
                mix((0.1, 0.5, 0.7), (0.2, 0.6, 0.8), 0.5 + 0.5 * np.sin(30 * Y - 3 * t)),
                sand,
            ),
            sky(),
        )
        img = np.where(foam[..., None], np.float32(0.97), img)
    elif name == "Night":
        cx, cy = np.floor(X * 24), np.floor(Y * 24)
        r = _hash(cx + ph, cy)
        fx, fy = np.modf(X * 24)[0] - 0.5, np.modf(Y * 24)[0] - 0.5
        star = (r > 0.9) & (fx * fx + fy * fy < 0.06) & (0.5 + 0.5 * np.sin(5 * t + 60 * r) > 0.3)
        img = mix((0.02, 0.03, 0.12), (0.08, 0.1, 0.25), Y)
        img = np.where(star[..., None], np.float32(0.95), img)
        img = np.where(below[..., None], np.float32(0.06) + 0 * img, img)
    elif name == "Snow":
        yy = Y - 0.25 * t
        cx, cy = np.floor(X * 18 + 0.3 * np.sin(t + ph)), np.floor(yy * 18)
        r = _hash(cx, cy + ph)
        fx, fy = np.modf(X * 18 + 0.3 * np.sin(t + ph))[0] - 0.5, yy * 18 - cy - 0.5
        flake = (r > 0.8) & (fx * fx + fy * fy < 0.05)
        img = np.where(
            below[..., None],
            mix((0.92, 0.94, 0.97), (0.8, 0.84, 0.9), (Y - hz) * 2),
            mix((0.55, 0.6, 0.7), (0.75, 0.78, 0.85), Y),
        )
        img = np.where(flake[..., None], np.float32(1.0), img)
    else:
        raise ValueError(f"unknown scene {name!r}; known: {', '.join(SCENES)}")
    img = img * np.asarray(prm["tint"], np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def _texture_rgb(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A flat textured backdrop (stripes / checks / gradient) for the cartoon still style."""
    c0, c1 = rng.uniform(0.2, 1.0, 3), rng.uniform(0.2, 1.0, 3)
    kind, f, a = rng.integers(3), rng.uniform(4, 14), rng.uniform(0, np.pi)
    u = X * np.cos(a) + Y * np.sin(a)
    w = {
        0: np.sin(2 * np.pi * f * u) > 0,
        1: (np.sin(2 * np.pi * f * X) * np.sin(2 * np.pi * f * Y)) > 0,
        2: np.clip(u, 0, 1),
    }[int(kind)]
    w = np.asarray(w, np.float32)[..., None]
    return (c0 * (1 - w) + c1 * w).astype(np.float32)[None]


# ----------------------------------------------------------------------------------- render
def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


_SKIN = (
    (0.96, 0.8, 0.66),
    (0.87, 0.66, 0.5),
    (0.7, 0.5, 0.35),
    (0.5, 0.34, 0.22),
    (0.35, 0.24, 0.16),
)
_OBJ_COLOURS = {
    "ball": ((0.95, 0.45, 0.1), (0.9, 0.15, 0.15), (0.95, 0.85, 0.1)),
    "frisbee": ((0.95, 0.45, 0.1), (0.9, 0.15, 0.15), (0.95, 0.85, 0.1)),
    "cup": ((0.97, 0.97, 0.95), (0.8, 0.2, 0.2), (0.3, 0.5, 0.9)),
    "phone": ((0.08, 0.08, 0.1), (0.2, 0.2, 0.22)),
    "racket": ((0.9, 0.9, 0.3), (0.3, 0.9, 0.5), (0.9, 0.5, 0.8)),
    "bat": ((0.6, 0.4, 0.2), (0.75, 0.55, 0.3)),
}


def _setting(cls: ActionClass, rng: np.random.Generator, bias: float, style: str) -> dict:
    """What a group shares: scene, actor colours and size. Draws a fixed number of values."""
    u, k = rng.random(), int(rng.integers(len(SCENES)))
    scene = cls.scene if u < bias else SCENES[k]
    pastel = style == "action_a"
    hue = rng.random()
    shirt = _hsv(
        hue,
        rng.uniform(0.2, 0.45) if pastel else rng.uniform(0.5, 0.9),
        rng.uniform(0.75, 1.0) if pastel else rng.uniform(0.45, 0.95),
    )
    pants = _hsv(hue + rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.6))
    skin = np.array(_SKIN[int(rng.integers(len(_SKIN)))], np.float32)
    pal = _OBJ_COLOURS.get(cls.obj or "ball")
    obj = np.array(pal[int(rng.integers(len(pal)))], np.float32)
    tint = 1 + rng.uniform(-0.08, 0.08, 3)
    if pastel:  # "other backgrounds": strong re-tint of the scene
        tint = 0.6 * tint + 0.6 * rng.uniform(0.3, 1.0, 3)
    return {
        "scene": scene,
        "shirt": shirt,
        "pants": pants,
        "skin": skin,
        "obj": obj,
        "height": rng.uniform(0.42, 0.62),
        "tint": tint,
        "phase": rng.uniform(0, 10),
        "horizon": rng.uniform(0.4, 0.6),
        "chair": _hsv(0.08, 0.6, rng.uniform(0.3, 0.6)),
    }


def _colour(part: str, st: dict) -> np.ndarray:
    base = part.replace("_far", "")
    c = {
        "pants": st["pants"],
        "shirt": st["shirt"],
        "skin": st["skin"],
        "obj": st["obj"],
        "obj2": np.array([0.1, 0.1, 0.1], np.float32),
        "chair": st["chair"],
    }[base]
    return c * (0.78 if part.endswith("_far") else 1.0)


def _plan(
    cls: ActionClass,
    st: dict,
    rng: np.random.Generator,
    T: int,
    size: int,
    speed_range: tuple[float, float],
    jitter: float,
    style: str = "video",
) -> dict:
    """All per-clip decisions: pose sequence (reversed for twins), placement, jitter."""
    speed = rng.uniform(*speed_range)
    pose = _MOTIONS[cls.motion](T, speed, cls.rate, rng)
    caps, yaw = _kinematics(pose, cls.obj)
    facing = rng.choice([-1.0, 1.0])
    yaw = yaw + rng.uniform(-0.45, 0.45)
    height = st["height"] * (rng.uniform(1.25, 1.6) if style == "action_b" else 1.0)
    scale = size * height * rng.uniform(0.92, 1.08)
    active = pose["active"]
    if cls.reverse:
        caps = [(n, p0[::-1], p1[::-1], r) for n, p0, p1, r in caps]
        yaw, active = yaw[::-1], active[::-1]
    cy, sy = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    names, P, R, D = [], [], [], []
    for n, p0, p1, r in caps:
        ends = []
        for p in (p0, p1):
            x = facing * (p[:, :1] * cy + p[:, 2:] * sy)
            ends.append(np.concatenate([x * scale, -p[:, 1:2] * scale], 1))  # T x 2 px
        depth = 0.5 * (
            (-p0[:, 0] * sy[:, 0] + p0[:, 2] * cy[:, 0])
            + (-p1[:, 0] * sy[:, 0] + p1[:, 2] * cy[:, 0])
        )
        depth = depth - 10.0 * (n == "chair") + 0.02 * n.startswith("obj") + 0.001 * (n == "skin")
        names.append(n), P.append(np.stack(ends, 1)), R.append(r * scale), D.append(depth)
    P = np.stack(P, 1)  # T x S x 2 x 2 (frame, part, end, xy)
    body = np.array([not n.startswith("obj") for n in names])
    xs = P[:, body, :, 0]
    lo, hi = xs.min() - 0.08 * scale, xs.max() + 0.08 * scale
    target = size * rng.uniform(0.32, 0.68)
    shift = target - 0.5 * (lo + hi)
    if hi - lo < size:
        shift = np.clip(shift, -lo, size - hi)
    else:
        shift = 0.5 * size - 0.5 * (lo + hi)
    gy = size * rng.uniform(0.82, 0.95)
    top = (P[:, body, :, 1].min() + gy) - 0.08 * scale
    gy = gy - min(top, 0.0) + (1 if top < 0 else 0)
    steps = rng.normal(0, 1, (T, 2))
    jit = np.zeros((T, 2))  # camera shake: AR(1) with unit stationary std, then scaled
    for k in range(T):
        jit[k] = 0.6 * jit[k - 1] * (k > 0) + 0.8 * steps[k]
    jit *= jitter * size / 112.0
    P = P + np.array([shift, gy])
    return {
        "P": P,
        "R": np.array(R),
        "D": np.stack(D, 1),
        "names": names,
        "jit": jit,
        "active": active,
        "outline": style == "action_b",
        "scene": st["scene"],
        "size": size,
    }


def _draw_actor(
    canvas: np.ndarray,
    P: np.ndarray,
    R: np.ndarray,
    D: np.ndarray,
    cols: np.ndarray,
    outline: float,
) -> None:
    """Composite anti-aliased capsules into ``canvas`` (H x W x 3, in place), far to near.
    P: S x 2 x 2 end points (px), R: S radii (px), D: S depths, cols: S x 3."""
    H, W = canvas.shape[:2]
    pad = R.max() + outline + 2
    x0, x1 = (
        int(max(0, np.floor(P[..., 0].min() - pad))),
        int(min(W, np.ceil(P[..., 0].max() + pad))),
    )
    y0, y1 = (
        int(max(0, np.floor(P[..., 1].min() - pad))),
        int(min(H, np.ceil(P[..., 1].max() + pad))),
    )
    if x1 <= x0 or y1 <= y0:
        return
    gx = np.arange(x0, x1, dtype=np.float32)[None, None, :] + 0.5
    gy = np.arange(y0, y1, dtype=np.float32)[None, :, None] + 0.5
    a = P[:, 0].astype(np.float32)  # S x 2
    b = (P[:, 1] - P[:, 0]).astype(np.float32)
    pax, pay = gx - a[:, 0, None, None], gy - a[:, 1, None, None]  # S x h x w
    bb = np.maximum((b * b).sum(1), 1e-6)[:, None, None]
    h = np.clip((pax * b[:, 0, None, None] + pay * b[:, 1, None, None]) / bb, 0, 1)
    dist = np.hypot(pax - b[:, 0, None, None] * h, pay - b[:, 1, None, None] * h)  # S x h x w
    region = canvas[y0:y1, x0:x1]
    cover = R.astype(np.float32)[:, None, None] + 0.5 - dist  # S x h x w, > 0 inside
    if outline:
        ring = np.minimum(np.maximum(cover + outline, 0), 1)[..., None]  # S x h x w x 1
    alpha = np.minimum(np.maximum(cover, 0), 1)[..., None]
    for s in np.argsort(D, kind="stable"):
        if outline:
            region += ring[s] * (np.float32(0.05) - region)
        region += alpha[s] * (cols[s] - region)


def _render(
    plan: dict,
    st: dict,
    frames: np.ndarray,
    noise: float,
    rng: np.random.Generator,
    backdrop: np.ndarray | None = None,
    animate: bool = True,
) -> np.ndarray:
    """Render the selected frames of a plan -> uint8 len(frames) x H x W x 3."""
    size = plan["size"]
    jit = plan["jit"][frames]  # n x 2
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    X = grid[None, None, :] - (jit[:, 0, None, None] / size).astype(np.float32)
    Y = grid[None, :, None] - (jit[:, 1, None, None] / size).astype(np.float32)
    t = (frames.astype(np.float32) / FPS * animate)[:, None, None]
    if backdrop is None:
        img = _scene_rgb(plan["scene"], X, Y, t, st)
    else:
        img = np.repeat(backdrop, len(frames), 0).copy()
    cols = np.stack([_colour(n, st) for n in plan["names"]])
    outline = max(1.0, 0.012 * size) if plan["outline"] else 0.0
    for i, f in enumerate(frames):
        P = plan["P"][f] + jit[i]
        _draw_actor(img[i], P, plan["R"], plan["D"][f], cols, outline)
    if noise > 0:
        img += np.float32(noise) * rng.standard_normal(img.shape, dtype=np.float32)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def render_clip(
    action: str | int,
    *,
    frames: int = 32,
    size: int = 112,
    seed: int = 0,
    scene: str | None = None,
    noise: float = 0.02,
    jitter: float = 1.0,
    speed_range: tuple[float, float] = (0.75, 1.33),
    animate_scene: bool = True,
) -> np.ndarray:
    """Render one clip in memory (for notebooks and tests), without writing a file.

    The setting and nuisances depend on ``seed`` only, not on the class, so two classes of a
    motion-only pair rendered with the same seed show the same actor in the same place (e.g.
    CatchBall is exactly ThrowBall's pose sequence played backwards).

    Args:
        action: class name or 0-based index into ``CLASSES``.
        frames, size, seed, noise, jitter, speed_range: as in ``SynthParams``.
        scene: force a scene (default: the class's preferred one).
        animate_scene: False freezes the background, leaving the actor as the only motion.

    Returns:
        uint8 array frames x size x size x 3 (RGB).
    """
    cls = CLASSES[action] if isinstance(action, int) else _class_by_name(action)
    st = _setting(cls, np.random.default_rng([seed, _STREAM["render_clip"], 0]), 1.0, "video")
    if scene is not None:
        if scene not in SCENES:
            raise ValueError(f"unknown scene {scene!r}; known: {', '.join(SCENES)}")
        st["scene"] = scene
    rng = np.random.default_rng([seed, _STREAM["render_clip"], 1])
    plan = _plan(cls, st, rng, frames, size, speed_range, jitter)
    return _render(plan, st, np.arange(frames), noise, rng, animate=animate_scene)


def _class_by_name(name: str) -> ActionClass:
    for c in CLASSES:
        if c.name == name:
            return c
    raise ValueError(
        f"unknown SynthActions class {name!r}; known: {', '.join(c.name for c in CLASSES)}"
    )


# ----------------------------------------------------------------------------------- files
def pick_codec() -> str:
    """``libx264`` when PyAV can encode with it, else ``mpeg4``."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # noqa: BLE001 - any failure means: not usable here
        return "mpeg4"


def write_video(
    path: str | Path, frames: np.ndarray, codec: str = "libx264", crf: int = 23, fps: int = FPS
) -> None:
    """Encode uint8 T x H x W x 3 RGB frames (H, W even) as yuv420p mp4, single-threaded so
    the bytes and pixels do not depend on scheduling."""
    import av

    _, H, W, _ = frames.shape
    tmp = Path(str(path) + ".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        else:
            stream.bit_rate = 400_000
        for f in frames:
            for pkt in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            ):
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
    st = _setting(
        cls, np.random.default_rng([p.seed, _STREAM["videos"], ci, g]), p.scene_bias, "video"
    )
    rng = np.random.default_rng([p.seed, _STREAM["videos"], ci, g, c])
    plan = _plan(cls, st, rng, p.frames, p.size, tuple(p.speed_range), p.jitter)
    frames = _render(plan, st, np.arange(p.frames), p.noise, rng)
    rel = f"{cls.name}/v_{cls.name}_g{g:02d}_c{c:02d}.mp4"
    write_video(Path(root) / "videos" / rel, frames, codec, p.crf)
    return rel, g


def _still_job(job: tuple) -> str:
    root, p, kind, label, members, i, split = job
    n_test = p.stills_per_class // 3
    j = i if split == "train" else p.stills_per_class - n_test + i
    rng = np.random.default_rng([p.seed, _STREAM[kind], _label_id(kind, label), j])
    size = p.still_sizes[{"action_a": 0, "action_b": 1, "scenes": 2}[kind]]
    if kind == "scenes":  # an empty scene at a random time, slightly shifted
        st = _setting(CLASSES[0], rng, 0.0, "video")  # tint, phase, horizon
        shift = rng.normal(0, 2, 2) / size
        grid = (np.arange(size, dtype=np.float32) + 0.5) / size
        X = (grid[None, None, :] - shift[0]).astype(np.float32)  # 1 x 1 x W
        Y = (grid[None, :, None] - shift[1]).astype(np.float32)  # 1 x H x 1
        t = np.full((1, 1, 1), rng.uniform(0, 20), np.float32)
        img = _scene_rgb(label, X, Y, t, st)  # 1 x H x W x 3
        img = img + np.float32(p.noise) * rng.standard_normal(img.shape, dtype=np.float32)
        img = np.round(np.clip(img[0], 0, 1) * 255).astype(np.uint8)
    else:
        cls = _class_by_name(members[j % len(members)])
        st = _setting(cls, rng, p.scene_bias, kind)
        plan = _plan(cls, st, rng, 32, size, tuple(p.speed_range), 0.0, kind)
        pick = np.flatnonzero(plan["active"])
        f = np.array([int(rng.choice(pick)) if len(pick) else 16])
        backdrop = None
        if kind == "action_b":
            grid = (np.arange(size, dtype=np.float32) + 0.5) / size
            backdrop = _texture_rgb(grid[None, :], grid[:, None], rng)
        img = _render(plan, st, f, p.noise, rng, backdrop)[0]
    rel = f"stills/{kind}/{split}/{label}/{label}_{j:04d}.png"
    _save_png(Path(root) / rel, img)
    return rel


def _label_id(kind: str, label: str) -> int:
    return sum(ord(ch) * (31**k) for k, ch in enumerate(label)) % (2**31)


def _still_labels(kind: str, names: list[str]) -> dict[str, list[str]]:
    if kind == "scenes":
        return {s: [s] for s in SCENES}
    if kind == "action_a":
        return {n: [n] for n in names}
    out: dict[str, list[str]] = {}
    for n in names:
        out.setdefault(_class_by_name(n).still_label or n, []).append(n)
    return out


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
    classes: int = 10,
    videos_per_class: int = 40,
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
            clips_per_group, test_groups, still_sizes, crf).

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
    for kind in ("action_a", "action_b", "scenes"):
        labels = _still_labels(kind, names)
        for split, n in (("train", p.stills_per_class - n_test), ("test", n_test)):
            for lab, members in labels.items():
                if n:  # no empty class folders: ImageFolder readers reject them
                    (root / "stills" / kind / split / lab).mkdir(parents=True, exist_ok=True)
                sjobs += [(str(root), p, kind, lab, members, i, split) for i in range(n)]
        stills[kind] = {
            "classes": list(labels),
            "train": len(labels) * (p.stills_per_class - n_test),
            "test": len(labels) * n_test,
            "size": p.still_sizes[("action_a", "action_b", "scenes").index(kind)],
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
            print(f"SynthActions: using cached set at {root} ({META_NAME} params match)")
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
        print(f"SynthActions: generating at {root} ({why})")
    return generate_synth_actions(root, **asdict(p), **run_kw)


def sample_root() -> Path:
    """Absolute path of the committed sample ``data_samples/synth`` in the repository."""
    return Path(__file__).resolve().parents[2] / "data_samples" / "synth"


# ----------------------------------------------------------------------------------- CLI
def add_cli(subparsers: Any) -> None:
    """Add ``dtgkit synth ROOT [...]``."""
    d = SynthParams()
    sp = subparsers.add_parser(
        "synth",
        help="generate the SynthActions world (videos + stills)",
        description=generate_synth_actions.__doc__.split("\n")[0],
    )
    sp.add_argument("root", help="output folder")
    sp.add_argument(
        "--classes", type=int, default=d.classes, help=f"1..{len(CLASSES)} (default %(default)s)"
    )
    sp.add_argument("--videos-per-class", type=int, default=d.videos_per_class)
    sp.add_argument("--frames", type=int, default=d.frames)
    sp.add_argument("--size", type=int, default=d.size, help="even (default %(default)s)")
    sp.add_argument("--seed", type=int, default=d.seed)
    sp.add_argument("--stills-per-class", type=int, default=d.stills_per_class)
    sp.add_argument("--clips-per-group", type=int, default=d.clips_per_group)
    sp.add_argument("--test-groups", type=int, default=None, help="default: 28%% of the groups")
    sp.add_argument("--noise", type=float, default=d.noise)
    sp.add_argument(
        "--speed-range", type=float, nargs=2, default=d.speed_range, metavar=("LO", "HI")
    )
    sp.add_argument("--scene-bias", type=float, default=d.scene_bias)
    sp.add_argument("--jitter", type=float, default=d.jitter)
    sp.add_argument(
        "--still-sizes", type=int, nargs=3, default=d.still_sizes, metavar=("A", "B", "SCENES")
    )
    sp.add_argument("--crf", type=int, default=d.crf)
    sp.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes (default: all CPUs up to 8; output does not depend on it)",
    )
    sp.add_argument("--force", action="store_true", help="regenerate even if a matching set exists")
    sp.add_argument("--no-progress", action="store_true")
    sp.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    kw = {
        "classes": args.classes,
        "videos_per_class": args.videos_per_class,
        "frames": args.frames,
        "size": args.size,
        "seed": args.seed,
        "stills_per_class": args.stills_per_class,
        "clips_per_group": args.clips_per_group,
        "test_groups": args.test_groups,
        "noise": args.noise,
        "speed_range": tuple(args.speed_range),
        "scene_bias": args.scene_bias,
        "jitter": args.jitter,
        "still_sizes": tuple(args.still_sizes),
        "crf": args.crf,
    }
    run = {"progress": not args.no_progress, "workers": args.workers}
    if args.force:
        summary = generate_synth_actions(args.root, **kw, **run)
    else:
        summary = ensure_synth(args.root, **kw, **run)
    print(json.dumps(summary))
    return 0
