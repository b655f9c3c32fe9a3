"""Rendering SynthActions: the motion programs of the actions, the animated scenes, the actor
and the camera (see :mod:`dtgkit.data.synth`). Pure numpy functions of their random generators
(no threads, so the pixels do not depend on the thread count or on what ran before).

Motion blur: a frame is the mean of sub-frame renders of the actor over the exposure
(``shutter`` x 1/fps), with as many sub-frames as the actor's fastest point needs (one when it
stands still). Motion that is fast enough to matter therefore leaves a trace in single frames,
as it does in a camera: Run is Walk's gait at 3x the cadence, identical frame by frame except
for the blurred legs.
"""
from __future__ import annotations

import colorsys
from collections.abc import Callable
from typing import Any

import numpy as np

from dtgkit.data.synth.world import CLASSES, FPS, RNG_STREAMS, SCENES, ActionClass


def _smooth(a: float, b: float, x: np.ndarray) -> np.ndarray:
    u = np.clip((x - a) / (b - a), 0.0, 1.0)
    return u * u * (3 - 2 * u)


# ----------------------------------------------------------------------------------- motion
# Body frame: (fwd, up, lat) in units of body height (bh). Limb directions are absolute unit
# vectors; side 0 = near (lat > 0), side 1 = far. A motion program maps sample times ``tt``
# (float frame numbers, several per frame for motion blur) to poses; it draws its random
# values first, so the same generator gives the same motion at any sampling of time.
_THIGH, _SHIN, _TORSO, _UARM, _FARM = 0.25, 0.25, 0.30, 0.16, 0.15
_HEAD_UP, _SHOULDER_AT, _HIP_HALF, _SHOULDER_HALF = 0.39, 0.27, 0.045, 0.08
_SIDE = np.array([1.0, -1.0])


def _d(theta: Any, phi: Any = 0.0) -> np.ndarray:
    """Unit vector at sagittal angle ``theta`` from straight down (forward positive), lateral
    angle ``phi``; broadcast -> (..., 3)."""
    theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
    return np.stack([np.sin(theta) * np.cos(phi), -np.cos(theta) * np.cos(phi), np.sin(phi)], -1)


def _rest(M: int) -> dict[str, Any]:
    z = np.zeros(M)
    pose = {
        "lean": z + 0.03,
        "yaw": z.copy(),
        "fwd": z.copy(),
        "lift": z.copy(),
        "active": np.ones(M, bool),
        "release": None,
        "chair": False,
    }
    pose["arm_u"] = np.stack([_d(z + 0.08, s * 0.12) for s in _SIDE])  # 2 x M x 3
    pose["arm_f"] = np.stack([_d(z + 0.25, s * 0.12) for s in _SIDE])
    pose["leg_u"] = np.stack([_d(z, s * 0.06) for s in _SIDE])
    pose["leg_l"] = np.stack([_d(z, s * 0.06) for s in _SIDE])
    return pose


def _window_span(T: int, dur_s: float, speed: float,
                 rng: np.random.Generator) -> tuple[float, float]:
    """(start, duration) in frames of a one-shot action; the start is uniform over a range
    symmetric under time reversal, so a reversed clip has the same distribution as a forward
    one."""
    dur = min(dur_s * FPS / speed, T - 1.0)
    return rng.uniform(0.0, T - 1.0 - dur), dur


def _window(tt: np.ndarray, T: int, dur_s: float, speed: float,
            rng: np.random.Generator) -> np.ndarray:
    """Progress p in [0, 1] of a one-shot action at the sample times ``tt``."""
    t0, dur = _window_span(T, dur_s, speed, rng)
    return np.clip((tt - t0) / dur, 0.0, 1.0)


def _phase(tt: np.ndarray, hz: float, rng: np.random.Generator) -> np.ndarray:
    return 2 * np.pi * hz * tt / FPS + rng.uniform(0, 2 * np.pi)


def _m_gait(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, rate * speed, rng)
    for s, sgn in enumerate((1.0, -1.0)):
        swing = sgn * np.sin(ph)
        flex = 0.8 * np.clip(sgn * np.cos(ph), 0, 1) ** 1.5
        pose["leg_u"][s] = _d(0.45 * swing, _SIDE[s] * 0.06)
        pose["leg_l"][s] = _d(0.45 * swing - flex, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(-0.5 * swing, _SIDE[s] * 0.12)
        pose["arm_f"][s] = _d(-0.5 * swing + 0.35, _SIDE[s] * 0.12)
    pose["fwd"] = 0.3 * rate * speed * tt / FPS
    return pose


def _m_clap(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, rate * speed, rng)
    c = 0.5 * (1 + np.cos(ph))  # 1 = apart, 0 = together
    for s in range(2):
        pose["arm_u"][s] = _d(1.25 + 0 * c, _SIDE[s] * (0.2 + 0.5 * c))
        pose["arm_f"][s] = _d(1.5 - 0.25 * c, _SIDE[s] * (-0.9 + 1.6 * c))
    pose["yaw"] += rng.choice([-1.0, 1.0]) * rng.uniform(1.2, 1.5)  # seen from the front
    return pose


def _m_glide(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, 0.45 * speed, rng)
    sway = np.sin(ph)
    for s in range(2):
        pose["leg_u"][s] = _d(0.6 + 0.06 * sway, _SIDE[s] * 0.14)
        pose["leg_l"][s] = _d(-0.3 + 0.06 * sway, _SIDE[s] * 0.14)
        pose["arm_u"][s] = _d(0.75 + 0.15 * _SIDE[s] * sway, _SIDE[s] * 0.9)
        pose["arm_f"][s] = _d(0.95 + 0.15 * _SIDE[s] * sway, _SIDE[s] * 1.1)
    pose["lean"] = 0.4 + 0.06 * sway
    pose["yaw"] += 0.2 * sway
    pose["fwd"] = 0.45 * speed * tt / FPS
    return pose


def _m_throw(tt, T, speed, rate, rng):
    t0, dur = _window_span(T, 1.0, speed, rng)
    pose, p = _rest(len(tt)), np.clip((tt - t0) / dur, 0.0, 1.0)
    wind, swing, follow = _smooth(0, 0.4, p), _smooth(0.4, 0.7, p), _smooth(0.7, 1.0, p)
    tu = 0.1 - 2.1 * wind - 2.3 * swing - 1.0 * follow  # unwrapped, overhead
    n = len(tt)
    pose["arm_u"][0] = _d(tu, 0.12)
    pose["arm_f"][0] = _d(tu - 1.3 * wind * (1 - swing), 0.12)
    pose["arm_u"][1] = _d(0.08 + 0.9 * wind * (1 - swing), -0.12)
    pose["arm_f"][1] = _d(0.25 + 1.1 * wind * (1 - swing), -0.12)
    pose["leg_u"][0], pose["leg_u"][1] = _d(np.full(n, 0.25), 0.06), _d(np.full(n, -0.2), -0.06)
    pose["leg_l"][0], pose["leg_l"][1] = _d(np.full(n, 0.15), 0.06), _d(np.full(n, -0.2), -0.06)
    pose["lean"] = -0.12 * wind * (1 - swing) + 0.3 * swing * (1 - 0.5 * follow)
    pose["active"] = (p > 0.15) & (p < 0.9)
    pose["release"] = (t0 + 0.62 * dur, np.array([2.4, 0.9, 0.0]) * speed, -4.0)
    return pose


def _m_hand_to_head(tt, T, speed, rate, rng):
    pose, p = _rest(len(tt)), _window(tt, T, 1.6, speed, rng)
    u = _smooth(0, 0.3, p) - _smooth(0.7, 1.0, p)
    pose["arm_u"][0] = _d(0.1 + 0.8 * u, 0.12 - 0.1 * u)
    pose["arm_f"][0] = _d(0.25 + 2.95 * u, 0.12 - 0.1 * u)
    pose["active"] = u > 0.5
    return pose


def _m_wave(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, 1.5 * speed, rng)
    pose["arm_u"][0] = _d(2.45 + 0.08 * np.sin(ph), 0.3)
    pose["arm_f"][0] = _d(3.0 + 0.55 * np.sin(ph), 0.3)
    return pose


def _m_jump(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, 1.3 * speed, rng)
    air, crouch = np.clip(np.sin(ph), 0, None), np.clip(-np.sin(ph), 0, None)
    pose["lift"] = 0.2 * air
    for s in range(2):
        pose["leg_u"][s] = _d(0.8 * crouch, _SIDE[s] * 0.06)
        pose["leg_l"][s] = _d(-0.7 * crouch, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(0.08 - 0.5 * crouch + 2.6 * air, _SIDE[s] * 0.15)
        pose["arm_f"][s] = _d(0.25 - 0.4 * crouch + 2.6 * air, _SIDE[s] * 0.15)
    pose["lean"] = 0.35 * crouch
    return pose


def _m_sit(tt, T, speed, rate, rng):
    pose, p = _rest(len(tt)), _window(tt, T, 1.4, speed, rng)
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


def _m_kick(tt, T, speed, rate, rng):
    pose, p = _rest(len(tt)), _window(tt, T, 0.9, speed, rng)
    k = np.sin(np.pi * p)
    pose["leg_u"][0] = _d(1.3 * k**2, 0.06)
    pose["leg_l"][0] = _d(1.3 * k**2 - 1.0 * np.clip(np.sin(2 * np.pi * p), 0, None), 0.06)
    pose["leg_u"][1] = _d(np.full(len(tt), -0.08), -0.06)
    pose["arm_u"][0], pose["arm_u"][1] = _d(-0.6 * k, 0.2), _d(0.08 + 0.7 * k, -0.2)
    pose["arm_f"][0], pose["arm_f"][1] = _d(-0.4 * k + 0.2, 0.2), _d(0.25 + 0.9 * k, -0.2)
    pose["lean"] = 0.03 - 0.25 * k
    pose["active"] = (p > 0.25) & (p < 0.75)
    return pose


def _m_bend(tt, T, speed, rate, rng):
    pose, p = _rest(len(tt)), _window(tt, T, 1.8, speed, rng)
    u = _smooth(0, 0.35, p) - _smooth(0.65, 1.0, p)
    pose["lean"] = 0.03 + 1.35 * u
    for s in range(2):
        pose["leg_u"][s] = _d(-0.2 * u, _SIDE[s] * 0.06)
        pose["arm_u"][s] = _d(0.08 + 0.35 * u, _SIDE[s] * 0.12)
        pose["arm_f"][s] = _d(0.25 + 0.3 * u, _SIDE[s] * 0.12)
    pose["active"] = u > 0.5
    return pose


def _m_punch(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, 1.4 * speed, rng)
    jab = int(rng.integers(2))  # the arm that jabs
    e = np.clip(np.sin(ph), 0, None) ** 2  # 0 = guard, 1 = arm straight out
    for s in range(2):
        ext = e if s == jab else 0 * e
        pose["arm_u"][s] = _d(0.5 + 1.07 * ext, _SIDE[s] * 0.18 * (1 - ext))
        pose["arm_f"][s] = _d(2.8 - 1.23 * ext, _SIDE[s] * 0.1 * (1 - ext))
    pose["leg_u"][0], pose["leg_u"][1] = _d(0.25 + 0 * e, 0.08), _d(-0.2 + 0 * e, -0.08)
    pose["leg_l"][0], pose["leg_l"][1] = _d(0.1 + 0 * e, 0.08), _d(-0.2 + 0 * e, -0.08)
    pose["lean"] = 0.12 + 0.1 * e
    return pose


def _m_spin(tt, T, speed, rate, rng):
    pose, ph = _rest(len(tt)), _phase(tt, 0.75 * speed, rng)
    n = len(tt)
    pose["yaw"] = ph
    for s in range(2):
        pose["arm_u"][s] = _d(np.full(n, 0.35), _SIDE[s] * 1.2)
        pose["arm_f"][s] = _d(np.full(n, 0.5), _SIDE[s] * 1.3)
        pose["leg_u"][s] = _d(np.zeros(n), _SIDE[s] * 0.1)
    return pose


def _m_swing(tt, T, speed, rate, rng):
    pose, p = _rest(len(tt)), _window(tt, T, 1.0, speed, rng)
    a = np.pi - 0.4 - (np.pi + 0.5) * _smooth(0.15, 0.75, p)  # azimuth: behind -> front-far
    e = 0.3
    n = len(tt)
    pose["arm_u"][0] = np.stack(
        [np.cos(a) * np.cos(e), -np.sin(e) + 0 * a, np.sin(a) * np.cos(e)], -1
    )
    pose["arm_f"][0] = np.stack(
        [np.cos(a - 0.3) * np.cos(e), -np.sin(e) + 0 * a, np.sin(a - 0.3) * np.cos(e)], -1
    )
    pose["leg_u"][0], pose["leg_u"][1] = _d(np.full(n, 0.2), 0.08), _d(np.full(n, -0.15), -0.08)
    pose["lean"] = 0.15 + 0 * p
    pose["yaw"] += 0.5 * (_smooth(0.15, 0.75, p) - 0.5)
    pose["active"] = (p > 0.2) & (p < 0.8)
    return pose


_MOTIONS: dict[str, Callable] = {
    "gait": _m_gait,
    "clap": _m_clap,
    "glide": _m_glide,
    "throw": _m_throw,
    "hand_to_head": _m_hand_to_head,
    "wave": _m_wave,
    "jump": _m_jump,
    "sit": _m_sit,
    "kick": _m_kick,
    "bend": _m_bend,
    "punch": _m_punch,
    "spin": _m_spin,
    "swing": _m_swing,
}


def _kinematics(pose: dict, obj: str | None, tt: np.ndarray) -> tuple[list, np.ndarray]:
    """Forward kinematics -> capsules [(name, p0 M x 3, p1 M x 3, radius bh)] in the body
    frame with feet on the ground (up = 0), and yaw (M,). ``tt``: the sample times."""
    M = len(pose["lean"])
    hip_c = np.zeros((M, 3))
    hip_c[:, 0] = pose["fwd"]
    tdir = np.stack([np.sin(pose["lean"]), np.cos(pose["lean"]), np.zeros(M)], -1)
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
        k = int(np.argmax(np.abs(pose["leg_u"][0][:, 0])))  # sample with the most folded thigh
        hf, hy = hip_c[k, 0], hip_c[k, 1] - 0.06
        one = np.ones((M, 1))

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
        if pose["release"] is not None:  # free flight after the release time
            t_rel, vel, g = pose["release"]
            order = np.argsort(tt, kind="stable")  # the hand at the release time, interpolated
            at = h + 0.06 * f
            start = np.array([np.interp(t_rel, tt[order], at[order, i]) for i in range(3)])
            dt = np.clip(tt - t_rel, 0, None)[:, None] / FPS
            free = start + vel * dt + 0.5 * g * dt**2 * np.array([0, 1.0, 0])
            centre = np.where(dt > 0, free, h + 0.06 * f)
        else:
            centre = h + 0.06 * f
        ex, ey = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
        caps += {  # props drawn larger than life, so that a 112-px frame shows them
            "ball": [("obj", centre, centre, 0.07)],
            "frisbee": [("obj", centre - 0.1 * ex, centre + 0.1 * ex, 0.025)],
            "cup": [("obj", h - 0.07 * ey, h + 0.06 * ey, 0.06),
                    ("obj2", h + 0.065 * ey - 0.05 * ex, h + 0.065 * ey + 0.05 * ex, 0.012)],
            "phone": [("obj", h - 0.02 * f, h + 0.13 * f, 0.03)],
            "racket": [("obj2", h, h + 0.15 * f, 0.015), ("obj", h + 0.22 * f, h + 0.36 * f, 0.08)],
            "bat": [("obj", h - 0.03 * f, h + 0.45 * f, 0.035)],
        }[obj]
    return caps, pose["yaw"]


# ----------------------------------------------------------------------------------- scenes
# A scene is a static picture plus layers that move (clouds, waves, snow, road marks, water):
# each is evaluated once on a canvas covering what the clip shows of it, then sampled per frame
# with a sub-pixel offset (camera shake + the layer's own drift). Coordinates: X, Y normalised
# to the frame (0..1, y down).
def _hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.modf(np.abs(np.sin(a * 12.9898 + b * 78.233) * 43758.5453))[0]


def _mix(c0, c1, w) -> np.ndarray:
    w = np.asarray(w, np.float32)[..., None]
    c0 = np.asarray(c0, np.float32)
    return c0 + (np.asarray(c1, np.float32) - c0) * w


def _sky(X, Y, hz):
    return _mix((0.25, 0.45, 0.85), (0.75, 0.87, 1.0), np.clip(Y / max(hz, 0.2) + 0 * X, 0, 1))


def _clouds(X, Y, ph):
    c = 0.6 * np.sin(7 * X + ph) * np.sin(4 * Y + 1.3 * ph) + 0.4 * np.sin(
        13 * X + 3 * Y + 2 * ph) * np.sin(9 * Y + ph)
    return _smooth(0.3, 0.8, c)


def _scene_parts(name: str, prm: dict) -> tuple[Callable, list[dict], Callable | None]:
    """(static picture f(X, Y) -> h x w x 3, moving layers, per-frame gain g(t) or None).

    A layer: ``rgb`` f(X, Y) -> h x w x 3 and ``alpha`` f(X, Y) -> h x w (each drifting with
    ``vel`` in frame widths per second, or fixed to the scene when ``alpha_fixed``), and an
    optional ``twinkle`` (rate, phase f(X, Y)) that modulates the alpha over time."""
    ph, hz = prm["phase"], prm["horizon"]

    def const(c):
        return lambda X, Y: np.broadcast_to(np.asarray(c, np.float32),
                                            (*np.broadcast(X, Y).shape, 3))

    if name == "Sky":
        base = lambda X, Y: _mix((0.25, 0.45, 0.85), (0.7, 0.85, 1.0), Y + 0 * X)
        layers = [{"rgb": const((1.0, 1.0, 1.0)), "alpha": lambda X, Y: _clouds(X, Y, ph),
                   "vel": (0.06, 0.0)}]
        return base, layers, None
    if name == "Meadow":
        def base(X, Y):
            g = 0.5 + 0.5 * np.sin(70 * X + 2.5 * np.sin(9 * Y + ph))
            grass = _mix((0.18, 0.45, 0.12), (0.35, 0.62, 0.2), g * (Y - hz) * 2)
            return np.where((Y > hz)[..., None], grass, _sky(X, Y, hz))
        layers = [{"rgb": const((1.0, 1.0, 1.0)),
                   "alpha": lambda X, Y: 0.8 * _clouds(X, 2 * Y, ph) * (Y < hz - 0.05),
                   "vel": (0.05, 0.0)}]
        return base, layers, None
    if name == "Pool":
        def base(X, Y):
            tiles = _mix((0.85, 0.88, 0.9), (0.6, 0.7, 0.75),
                         np.sin(60 * X) * np.sin(60 * Y) > 0.9)
            water = np.broadcast_to(np.float32([0.08, 0.42, 0.72]), tiles.shape)
            lane = (np.abs(np.modf(Y * 4)[0] - 0.5) < 0.02) & (Y > hz)
            water = np.where(lane[..., None], np.float32([0.9, 0.27, 0.27]), water)
            return np.where((Y > hz)[..., None], water, tiles)
        layers = [{"rgb": const((0.55, 0.85, 0.95)),
                   "alpha": lambda X, Y: (np.sin(19 * X + ph) + np.sin(23 * Y + 7 * X)) ** 2 / 4,
                   "vel": (-0.08, 0.05), "mask": lambda X, Y: (Y > hz) * 1.0 + 0 * X}]
        return base, layers, None
    if name == "Gym":
        def base(X, Y):
            wall = _mix((0.82, 0.76, 0.6), (0.72, 0.66, 0.52), 0.5 + 0.5 * np.sin(30 * Y + 0 * X))
            floor = _mix((0.62, 0.42, 0.22), (0.5, 0.32, 0.15),
                         np.abs(np.sin(25 * X + 3 * Y)) > 0.95)
            return np.where((Y > hz)[..., None], floor, wall)
        return base, [], lambda t: 1 + 0.06 * np.sin(2 * np.pi * 2.5 * t + ph)
    if name == "Street":
        def base(X, Y):
            hgt = 0.15 + 0.25 * _hash(np.floor(X * 7 + ph), 1.0)
            bld = (Y > hz - hgt) & (Y <= hz)
            road = _mix((0.38, 0.38, 0.4), (0.3, 0.3, 0.32), np.clip((Y - hz) * 2, 0, 1))
            house = np.float32(0.25) + 0.1 * _hash(np.floor(X * 7 + ph), 2.0)[..., None]
            return np.where((Y > hz)[..., None], road,
                            np.where(bld[..., None], house + 0 * road, _sky(X, Y, hz)))
        layers = [{"rgb": const((0.95, 0.95, 0.95)),
                   "alpha": lambda X, Y: (np.modf(np.abs(X * 4 + ph))[0] < 0.5) * 1.0 + 0 * Y,
                   "vel": (0.3, 0.0),
                   "mask": lambda X, Y: (np.abs(Y - (hz + 1) / 2) < 0.012) * 1.0 + 0 * X}]
        return base, layers, None
    if name == "Beach":
        def base(X, Y):
            sand = _mix((0.93, 0.83, 0.6), (0.85, 0.72, 0.48), np.clip((Y - hz) * 2, 0, 1))
            return np.where((Y > hz)[..., None], sand, _sky(X, Y, hz))
        sea_end = lambda X, Y: hz + 0.15 + 0.02 * np.sin(8 * X + ph)
        layers = [{"rgb": lambda X, Y: _mix((0.1, 0.5, 0.7), (0.2, 0.6, 0.8),
                                            0.5 + 0.5 * np.sin(30 * Y + 0 * X)),
                   "alpha": lambda X, Y: ((Y > hz) & (Y < sea_end(X, Y))) * 1.0,
                   "vel": (0.0, 0.1), "alpha_fixed": True},
                  {"rgb": const((0.97, 0.97, 0.97)),
                   "alpha": lambda X, Y: (np.abs(Y - sea_end(X, Y)) < 0.015) * 1.0,
                   "vel": (0.04, 0.0)}]
        return base, layers, None
    if name == "Night":
        def base(X, Y):
            sky = _mix((0.02, 0.03, 0.12), (0.08, 0.1, 0.25), Y + 0 * X)
            return np.where((Y > hz)[..., None], np.float32(0.06), sky)

        def stars(X, Y):
            cx, cy = np.floor(X * 24), np.floor(Y * 24)
            r = _hash(cx + ph, cy)
            fx, fy = np.modf(X * 24)[0] - 0.5, np.modf(Y * 24)[0] - 0.5
            return ((r > 0.9) & (fx * fx + fy * fy < 0.06) & (Y <= hz)) * 1.0

        layers = [{"rgb": const((0.95, 0.95, 0.95)), "alpha": stars, "vel": (0.0, 0.0),
                   "twinkle": (5.0, lambda X, Y: 60 * _hash(np.floor(X * 24) + ph,
                                                             np.floor(Y * 24)))}]
        return base, layers, None
    if name == "Snow":
        def base(X, Y):
            return np.where((Y > hz)[..., None],
                            _mix((0.92, 0.94, 0.97), (0.8, 0.84, 0.9), (Y - hz) * 2 + 0 * X),
                            _mix((0.55, 0.6, 0.7), (0.75, 0.78, 0.85), Y + 0 * X))

        def flakes(X, Y):
            cx, cy = np.floor(X * 18), np.floor(Y * 18)
            r = _hash(cx, cy + ph)
            fx, fy = np.modf(X * 18)[0] - 0.5, Y * 18 - cy - 0.5
            return ((r > 0.8) & (fx * fx + fy * fy < 0.05)) * 1.0

        layers = [{"rgb": const((1.0, 1.0, 1.0)), "alpha": flakes, "vel": (0.03, 0.25)}]
        return base, layers, None
    raise ValueError(f"unknown scene {name!r}; known: {', '.join(SCENES)}")


def _sample(fn: Callable, offsets: np.ndarray, size: int) -> np.ndarray:
    """``fn`` (of X, Y) seen through n frames shifted by ``offsets`` (n x 2, px; content moves
    by +offset), bilinear: evaluated once on a canvas covering all frames. Returns
    n x size x size (x C) float32."""
    lo, hi = np.floor(offsets.min(0)).astype(int), np.floor(offsets.max(0)).astype(int)
    x0, y0 = -hi[0] - 1, -hi[1] - 1
    w, h = size + (hi[0] - lo[0]) + 2, size + (hi[1] - lo[1]) + 2
    X = ((np.arange(x0, x0 + w, dtype=np.float32) + 0.5) / size)[None, :]  # 1 x w
    Y = ((np.arange(y0, y0 + h, dtype=np.float32) + 0.5) / size)[:, None]  # h x 1
    canvas = np.asarray(fn(X, Y), np.float32)
    canvas = np.broadcast_to(canvas, (h, w, *canvas.shape[2:]))
    out = np.empty((len(offsets), size, size, *canvas.shape[2:]), np.float32)
    for i, (ox, oy) in enumerate(offsets):
        sx, sy = -ox - x0, -oy - y0  # canvas position of pixel 0
        ix, iy = int(np.floor(sx)), int(np.floor(sy))
        ax, ay = np.float32(sx - ix), np.float32(sy - iy)
        c = canvas[iy:iy + size + 1, ix:ix + size + 1]
        top = c[:-1, :-1] * (1 - ax) + c[:-1, 1:] * ax
        bot = c[1:, :-1] * (1 - ax) + c[1:, 1:] * ax
        out[i] = top * (1 - ay) + bot * ay
    return out


def scene_frames(name: str, size: int, times: np.ndarray, shake: np.ndarray,
                 prm: dict) -> np.ndarray:
    """An animated scene seen by a shaking camera.

    Args:
        name: one of ``SCENES``.
        size: frame side in px.
        times: n frame times in seconds.
        shake: n x 2 camera offsets in px (the picture moves by them).
        prm: the setting's ``phase``, ``horizon`` and ``tint``.

    Returns:
        n x size x size x 3 float32 in [0, 1].
    """
    times = np.asarray(times, np.float64).reshape(-1)
    shake = np.asarray(shake, np.float64).reshape(-1, 2)
    base, layers, gain = _scene_parts(name, prm)
    img = _sample(base, shake, size)
    for layer in layers:
        drift = shake + np.outer(times, layer["vel"]) * size
        rgb = _sample(layer["rgb"], drift, size)
        alpha = _sample(layer["alpha"], shake if layer.get("alpha_fixed") else drift, size)
        if "mask" in layer:
            alpha = alpha * _sample(layer["mask"], shake, size)
        if "twinkle" in layer:
            rate, phase = layer["twinkle"]
            ph = _sample(phase, drift, size)
            wave = 0.5 + 0.5 * np.sin(rate * times[:, None, None] + ph)
            alpha = alpha * wave.astype(np.float32)
        img += np.clip(alpha, 0, 1)[..., None] * (rgb - img)
    if gain is not None:
        img *= np.asarray(gain(times), np.float32)[:, None, None, None]
    img *= np.asarray(prm["tint"], np.float32)
    return np.clip(img, 0, 1)


def texture_rgb(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def draw_setting(cls: ActionClass, rng: np.random.Generator, bias: float, style: str) -> dict:
    """What a group shares: scene, actor colours and size. Draws a fixed number of values.
    ``bias``: probability of the class's preferred scene (a class's own ``scene_bias`` wins)."""
    u, k = rng.random(), int(rng.integers(len(SCENES)))
    bias = bias if cls.scene_bias is None else cls.scene_bias
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
        "height": rng.uniform(0.5, 0.72),
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


#: sub-frame spacing of the motion blur, px at 112 px (scales with the frame size)
_BLUR_STEP = 1.5
_MAX_SUBFRAMES = 8


def _project(caps: list, yaw: np.ndarray, facing: float, scale: float) -> tuple:
    """Capsules in px (relative to the body origin): P M x S x 2 x 2, R S, D M x S, names."""
    cy, sy = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    names, P, R, D = [], [], [], []
    for n, p0, p1, r in caps:
        ends = []
        for p in (p0, p1):
            x = facing * (p[:, :1] * cy + p[:, 2:] * sy)
            ends.append(np.concatenate([x * scale, -p[:, 1:2] * scale], 1))  # M x 2 px
        depth = 0.5 * (
            (-p0[:, 0] * sy[:, 0] + p0[:, 2] * cy[:, 0])
            + (-p1[:, 0] * sy[:, 0] + p1[:, 2] * cy[:, 0])
        )
        depth = depth - 10.0 * (n == "chair") + 0.02 * n.startswith("obj") + 0.001 * (n == "skin")
        names.append(n), P.append(np.stack(ends, 1)), R.append(r * scale), D.append(depth)
    return np.stack(P, 1), np.array(R), np.stack(D, 1), names


def plan_clip(
    cls: ActionClass,
    st: dict,
    rng: np.random.Generator,
    T: int,
    size: int,
    speed_range: tuple[float, float],
    jitter: float,
    style: str = "video",
    shutter: float = 1.0,
) -> dict:
    """All per-clip decisions: the motion (reversed for twins) at frame and sub-frame times,
    placement, camera shake. ``P[f]`` holds the sub-frame poses of frame ``f`` (px)."""
    speed = rng.uniform(*speed_range)
    motion_seed = int(rng.integers(2**63))
    facing = rng.choice([-1.0, 1.0])
    yaw_off = rng.uniform(-0.45, 0.45)
    height = st["height"] * (rng.uniform(1.2, 1.4) if style == "action_b" else 1.0)
    scale = size * height * rng.uniform(0.92, 1.08)

    def poses(tt: np.ndarray) -> tuple:
        src = (T - 1.0) - tt if cls.reverse else tt  # a twin is its motion played backwards
        pose = _MOTIONS[cls.motion](src, T, speed, cls.rate, np.random.default_rng(motion_seed))
        caps, yaw = _kinematics(pose, cls.obj, src)
        return (*_project(caps, yaw + yaw_off, facing, scale), pose["active"])

    frames = np.arange(T, dtype=np.float64)
    P1, R, D1, names, active = poses(frames)  # T x S x 2 x 2 at the frame times
    # sub-frames per frame: enough that the fastest capsule end moves <= _BLUR_STEP between them
    vel = np.zeros(T)
    if T > 1:
        step = np.abs(np.diff(P1, axis=0)).max(axis=(1, 2, 3))  # T-1: px per frame
        vel = np.maximum(np.r_[step, step[-1]], np.r_[step[0], step])
    blur = vel * shutter / (_BLUR_STEP * size / 112.0)
    n_sub = np.clip(np.ceil(blur), 1, _MAX_SUBFRAMES).astype(int)  # T
    offs = [shutter * ((np.arange(n) + 0.5) / n - 0.5) if n > 1 else np.zeros(1) for n in n_sub]
    if cls.reverse:  # sub-frames in the order of the motion's own time: a twin's frame f is
        offs = [o[::-1] for o in offs]  # then exactly its forward class's frame T-1-f
    tt = np.concatenate([f + o for f, o in zip(frames, offs)])
    P, _, D, _, _ = poses(tt) if n_sub.max() > 1 else (P1, R, D1, names, active)
    starts = np.r_[0, np.cumsum(n_sub)[:-1]]

    body = np.array([not n.startswith("obj") for n in names])
    xs = P1[:, body, :, 0]
    lo, hi = xs.min() - 0.08 * scale, xs.max() + 0.08 * scale
    target = size * rng.uniform(0.32, 0.68)
    shift = target - 0.5 * (lo + hi)
    if hi - lo < size:
        shift = np.clip(shift, -lo, size - hi)
    else:
        shift = 0.5 * size - 0.5 * (lo + hi)
    gy = size * rng.uniform(0.84, 0.96)
    top = (P1[:, body, :, 1].min() + gy) - 0.06 * scale
    gy = gy - min(top, 0.0) + (1 if top < 0 else 0)
    steps = rng.normal(0, 1, (T, 2))
    jit = np.zeros((T, 2))  # camera shake: AR(1) with unit stationary std, then scaled
    for k in range(T):
        jit[k] = 0.6 * jit[k - 1] * (k > 0) + 0.8 * steps[k]
    jit *= jitter * size / 112.0
    P = P + np.array([shift, gy])
    return {
        "P": [P[s:s + n] for s, n in zip(starts, n_sub)],  # per frame: n_sub x S x 2 x 2
        "R": R,
        "D": [D[s:s + n] for s, n in zip(starts, n_sub)],
        "names": names,
        "jit": jit,
        "active": active,
        "subframes": n_sub,
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
    """Composite anti-aliased capsules into ``canvas`` (H x W x 3, in place), far to near,
    each in its own bounding box. P: S x 2 x 2 end points (px), R: S radii (px), D: S depths,
    cols: S x 3."""
    H, W = canvas.shape[:2]
    for s in np.argsort(D, kind="stable"):
        (ax, ay), (bx, by) = P[s].tolist()
        r = float(R[s])
        pad = r + outline + 1.5
        x0, x1 = max(0, int(np.floor(min(ax, bx) - pad))), min(W, int(np.ceil(max(ax, bx) + pad)))
        y0, y1 = max(0, int(np.floor(min(ay, by) - pad))), min(H, int(np.ceil(max(ay, by) + pad)))
        if x1 <= x0 or y1 <= y0:
            continue
        px = np.arange(x0, x1, dtype=np.float32)[None, :] + np.float32(0.5 - ax)  # 1 x w
        py = np.arange(y0, y1, dtype=np.float32)[:, None] + np.float32(0.5 - ay)  # h x 1
        dx, dy = np.float32(bx - ax), np.float32(by - ay)
        bb = max(float(dx * dx + dy * dy), 1e-6)
        h = np.minimum(np.maximum((px * dx + py * dy) * np.float32(1.0 / bb), 0), 1)  # h x w
        dist = np.hypot(px - dx * h, py - dy * h)
        cover = np.float32(r + 0.5) - dist  # > 0 inside
        region = canvas[y0:y1, x0:x1]
        if outline:
            ring = np.minimum(np.maximum(cover + np.float32(outline), 0), 1)[..., None]
            region += ring * (np.float32(0.05) - region)
        alpha = np.minimum(np.maximum(cover, 0), 1)[..., None]
        region += alpha * (cols[s] - region)


def _actor_box(P: np.ndarray, R: np.ndarray, pad: float, H: int,
               W: int) -> tuple[int, int, int, int]:
    """Bounding box (x0, x1, y0, y1) of all capsules of all sub-frames, clipped to the frame."""
    m = float(R.max()) + pad
    x0, x1 = int(max(0, np.floor(P[..., 0].min() - m))), int(min(W, np.ceil(P[..., 0].max() + m)))
    y0, y1 = int(max(0, np.floor(P[..., 1].min() - m))), int(min(H, np.ceil(P[..., 1].max() + m)))
    return x0, x1, y0, y1


def render_frames(
    plan: dict,
    st: dict,
    frames: np.ndarray,
    noise: float,
    rng: np.random.Generator,
    backdrop: np.ndarray | None = None,
    animate: bool = True,
) -> np.ndarray:
    """Render the selected frames of a plan -> uint8 len(frames) x H x W x 3. A frame with
    several sub-frames is the mean of their renders (motion blur)."""
    size = plan["size"]
    frames = np.asarray(frames)
    jit = plan["jit"][frames]  # n x 2
    t = frames.astype(np.float64) / FPS * animate
    if backdrop is None:
        img = scene_frames(plan["scene"], size, t, jit, st)
    else:
        img = np.repeat(backdrop, len(frames), 0).copy()
    cols = np.stack([_colour(n, st) for n in plan["names"]]).astype(np.float32)
    outline = max(1.0, 0.012 * size) if plan["outline"] else 0.0
    for i, f in enumerate(frames):
        P = plan["P"][f] + jit[i]  # n_sub x S x 2 x 2
        D = plan["D"][f]
        if len(P) == 1:
            _draw_actor(img[i], P[0], plan["R"], D[0], cols, outline)
            continue
        x0, x1, y0, y1 = _actor_box(P, plan["R"], outline + 2, size, size)
        if x1 <= x0 or y1 <= y0:
            continue
        acc = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        for k in range(len(P)):
            sub = img[i, y0:y1, x0:x1].copy()
            _draw_actor(sub, P[k] - np.array([x0, y0]), plan["R"], D[k], cols, outline)
            acc += sub
        img[i, y0:y1, x0:x1] = acc / np.float32(len(P))
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
    speed_range: tuple[float, float] = (0.8, 1.25),
    shutter: float = 1.0,
    animate_scene: bool = True,
) -> np.ndarray:
    """Render one clip in memory (for notebooks and tests), without writing a file.

    The setting and nuisances depend on ``seed`` only, not on the class, so two classes of a
    motion-only pair rendered with the same seed show the same actor in the same place (e.g.
    CatchBall is exactly ThrowBall's pose sequence played backwards, Run is Walk's gait at
    3x the cadence).

    Args:
        action: class name or 0-based index into ``CLASSES``.
        frames, size, seed, noise, jitter, speed_range, shutter: as in ``SynthParams``.
        scene: force a scene (default: the class's preferred one).
        animate_scene: False freezes the background, leaving the actor as the only motion.

    Returns:
        uint8 array frames x size x size x 3 (RGB).
    """
    cls = CLASSES[action] if isinstance(action, int) else class_by_name(action)
    st = draw_setting(cls, np.random.default_rng([seed, RNG_STREAMS["render_clip"], 0]), 1.0,
                      "video")
    if scene is not None:
        if scene not in SCENES:
            raise ValueError(f"unknown scene {scene!r}; known: {', '.join(SCENES)}")
        st["scene"] = scene
    rng = np.random.default_rng([seed, RNG_STREAMS["render_clip"], 1])
    plan = plan_clip(cls, st, rng, frames, size, speed_range, jitter, shutter=shutter)
    return render_frames(plan, st, np.arange(frames), noise, rng, animate=animate_scene)


def class_by_name(name: str) -> ActionClass:
    for c in CLASSES:
        if c.name == name:
            return c
    raise ValueError(
        f"unknown SynthActions class {name!r}; known: {', '.join(c.name for c in CLASSES)}"
    )
