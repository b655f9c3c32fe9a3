"""Rendering SynthActions: the motion programs of the actions, the animated scenes, the actor
and the camera (see :mod:`dtgkit.data.synth`). Pure functions of their random generators."""
from __future__ import annotations

import colorsys
from typing import Any

import numpy as np

from dtgkit.data.synth.world import CLASSES, FPS, RNG_STREAMS, SCENES, ActionClass


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


def scene_rgb(name: str, X: np.ndarray, Y: np.ndarray, t: np.ndarray, prm: dict) -> np.ndarray:
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


def plan_clip(
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


def render_frames(
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
        img = scene_rgb(plan["scene"], X, Y, t, st)
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
    cls = CLASSES[action] if isinstance(action, int) else class_by_name(action)
    st = draw_setting(cls, np.random.default_rng([seed, RNG_STREAMS["render_clip"], 0]), 1.0, "video")
    if scene is not None:
        if scene not in SCENES:
            raise ValueError(f"unknown scene {scene!r}; known: {', '.join(SCENES)}")
        st["scene"] = scene
    rng = np.random.default_rng([seed, RNG_STREAMS["render_clip"], 1])
    plan = plan_clip(cls, st, rng, frames, size, speed_range, jitter)
    return render_frames(plan, st, np.arange(frames), noise, rng, animate=animate_scene)


def class_by_name(name: str) -> ActionClass:
    for c in CLASSES:
        if c.name == name:
            return c
    raise ValueError(
        f"unknown SynthActions class {name!r}; known: {', '.join(c.name for c in CLASSES)}"
    )
