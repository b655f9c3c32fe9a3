"""Self-checks for the exercises of the course labs (``notebooks/01`` ... ``07``).

Each ``check_...`` takes the student's answer (and what the notebook computed) and works out
the right answer with the library itself. A right answer prints a line starting with
``Correct`` and why; a wrong one raises :class:`LabCheckError` (an ``AssertionError``, so an
nbgrader test cell fails) whose message says *what* is wrong and *how* to find the right
answer, naming the usual mistake when it recognises one. ``check_prediction`` never fails on a
wrong guess (predicting is the exercise): it says what was measured and why.

Answers that depend on the committed results (``notebooks/results/``) are computed from them
through :mod:`dtgkit.experiments.report` at check time, so the checks stay right when the
ablations are re-run.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dtgkit.data.sampling import tsn_indices
from dtgkit.experiments import report

__all__ = [
    "LabCheckError",
    "check_beats_preset",
    "check_best_arm",
    "check_best_teacher_per_pair",
    "check_claim_verdict",
    "check_distinit_trap",
    "check_feature_silhouettes",
    "check_identical_train_views",
    "check_initial_contrast_loss",
    "check_offline_weights",
    "check_own_retrieval",
    "check_prediction",
    "check_queue_state",
    "check_step_count",
    "check_table_placement",
    "check_tsn_test_indices",
    "lab_row",
    "queue_trend",
]


class LabCheckError(AssertionError):
    """A wrong answer; the message explains what is wrong and how to find the right one."""


def _fail(msg: str) -> None:
    raise LabCheckError(msg)


def _ok(msg: str) -> bool:
    print(f"Correct. {msg}")
    return True


def _int_list(answer: Any, what: str) -> list[int]:
    try:
        values = [int(v) for v in np.asarray(answer).ravel().tolist()]
    except (TypeError, ValueError):
        _fail(f"{what} should be a list of whole numbers, got {answer!r}")
    if values != [float(v) for v in np.asarray(answer, dtype=float).ravel()]:
        _fail(f"{what} should hold whole frame numbers, got {answer!r}")
    return values


# ------------------------------------------------------------------ 01 clip sampling
def check_tsn_test_indices(answer: Sequence[int], num_frames: int = 37, num_segments: int = 8) -> bool:
    """The TSN test-mode (segment centre) indices of an ``num_frames``-frame video."""
    n, t = num_frames, num_segments
    want = tsn_indices(n, t, train=False).tolist()
    got = _int_list(answer, "the index list")
    if got == want:
        return _ok(f"segments are N / T = {n / t:g} frames long (a float), and segment i's "
                   f"centre is int(i * {n / t:g} + {n / t / 2:g}): {want}.")
    if len(got) != t:
        _fail(f"one index per segment: {t} numbers, you gave {len(got)}.")
    i = np.arange(t)
    avg_int = n // t
    known = {
        "you used the integer segment length N // T = {a} (the training rule); test mode uses "
        "the float N / T = {f:g}, so the centres drift right of i * {a}.":
            [int(x) for x in i * avg_int + avg_int / 2],
        "these are 1-based; frame numbers start at 0.": [w + 1 for w in want],
        "you rounded the centres; mmaction2 (and dtgkit) truncate with int().":
            [round(x) for x in i * n / t + n / t / 2],
        "these are the segment starts, int(i * N / T); the test view takes each segment's "
        "centre, half a segment later.": [int(x) for x in i * n / t],
    }
    for why, wrong in known.items():
        if got == wrong:
            _fail(why.format(a=avg_int, f=n / t) + " Re-derive, then compare with "
                  f"tsn_indices({n}, {t}, train=False).")
    k = next(j for j in range(t) if got[j] != want[j])
    _fail(f"segment {k}: you wrote {got[k]}; its centre is {k} * {n}/{t} + {n}/{t}/2 = "
          f"{k * n / t + n / t / 2:g}, truncated to {want[k]}.")
    return False


def _always_identical(n: int, t: int, draws: int = 16) -> bool:
    first = tsn_indices(n, t, train=True, rng=np.random.default_rng(0))
    return all(np.array_equal(first, tsn_indices(n, t, train=True, rng=np.random.default_rng(s)))
               for s in range(1, draws))


def check_identical_train_views(answer: Sequence[int], num_segments: int = 8,
                                max_frames: int = 40) -> bool:
    """The video lengths N (1..``max_frames``) for which two *training* samplings are always
    identical, i.e. sampling adds no randomness at all."""
    t = num_segments
    got = set(_int_list(sorted(answer), "the list of video lengths"))
    want = {n for n in range(1, max_frames + 1) if _always_identical(n, t)}
    if got & set(range(1, max_frames + 1)) == want:
        return _ok(f"N = {min(want)}..{max(want)}: for N < T every frame is used "
                   f"(around(i * N / T)), and for T <= N < 2T the segment length N // T is 1, so "
                   f"the random offset randint(1) is always 0. From N = 2T = {2 * t} on, each "
                   f"segment has >= 2 frames to draw from.")
    missing, extra = sorted(want - got), sorted(got - want)
    parts = []
    if missing:
        short = [n for n in missing if n < t]
        mid = [n for n in missing if n >= t]
        if short:
            parts.append(f"missing N = {short}: with fewer frames than segments every frame is "
                         f"taken in a fixed order (no draw at all)")
        if mid:
            parts.append(f"missing N = {mid}: N // T = 1 there, so the 'random' offset is "
                         f"rng.integers(1) = 0 every time")
    if extra:
        parts.append(f"N = {extra} are not always identical: N // T >= 2 gives each segment "
                     f"a choice of frames (try tsn_indices({extra[0]}, {t}, train=True, rng=...) "
                     f"with two seeds)")
    _fail("; ".join(parts) + ".")
    return False


def check_best_arm(answer: str, lead_is_real: bool, suite: str, arms: Sequence[str], *,
                   results: str | Path = report.RESULTS, metric: str = "acc1") -> bool:
    """Which of ``arms`` has the best mean ``metric`` in the committed ``suite``, and whether
    its lead over the runner-up held in every seed (:func:`dtgkit.experiments.report.verdict`)."""
    rows, summary = report.load_suite(suite, results)
    means = {r["arm"]: r[f"{metric}_mean"] for r in summary if r["arm"] in arms
             and not math.isnan(r.get(f"{metric}_mean", float("nan")))}
    if not means:
        _fail(f"no results for {list(arms)} in {suite}")
    ranked = sorted(means, key=means.get, reverse=True)
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else ranked[0]
    answer = str(answer)
    if answer not in means:
        hits = [a for a in means if a.endswith(answer) or answer in a]
        if len(hits) != 1:
            _fail(f"{answer!r} is none of the arms {sorted(means)}: use the 'arm' column of "
                  f"report.load_suite({suite!r})'s rows.")
        answer = hits[0]
    diff = report.paired_difference(rows, best, second, metric)
    real = report.verdict(diff) == "holds"
    if means[answer] < means[best]:
        _fail(f"{answer} has mean {metric} {means[answer]:.2f}, but {best} has "
              f"{means[best]:.2f}: sort the summary rows by '{metric}_mean'.")
    if bool(lead_is_real) != real:
        _fail(f"{best} leads {second} by {diff['diff']:+.2f} on average, but per seed it won "
              f"{diff['wins']}, lost {diff['losses']}, tied {diff['ties']} of {diff['n']}: the lead "
              f"{'held' if real else 'did not hold'} in every seed, so lead_is_real is {real}. "
              f"(report.paired_difference(rows, {best!r}, {second!r}))")
    return _ok(f"{best} ({means[best]:.2f}) leads {second} ({means[second]:.2f}) by "
               f"{diff['diff']:+.2f} ± {diff['std']:.2f} over {diff['n']} seeds (won "
               f"{diff['wins']}, lost {diff['losses']}, tied {diff['ties']}): "
               f"{'a lead every seed agrees on' if real else 'not a lead the seeds agree on'}.")


# ------------------------------------------------------------------ 02 teachers
def check_offline_weights(answer: Sequence[float], accs: Sequence[float] = (59.98, 49.96, 62.01, 61.83)) -> bool:
    """The paper's offline weights: softmax of single-teacher top-1 accuracies in percent at
    temperature 1 (Sec. 4.3.3: 59.98, 49.96, 62.01, 61.83 % give 0.067, 3e-6, 0.51, 0.43)."""
    from dtgkit.dtg import weighting

    want = weighting.offline(list(accs)).numpy().astype(float)
    got = np.asarray(answer, dtype=float).ravel()
    if got.shape != want.shape:
        _fail(f"one weight per teacher: {len(want)} numbers, you gave {got.size}.")
    if np.allclose(got, want, rtol=1e-2, atol=1e-4):
        return _ok(f"exp(acc_k) / sum_j exp(acc_j) with the accuracies in percent: "
                   f"{np.array2string(want, precision=3)}. A 2-point lead is a factor e^2 = 7.4.")
    x = np.asarray(accs, dtype=float)
    frac = np.exp(x / 100) / np.exp(x / 100).sum()
    if np.allclose(got, frac, rtol=1e-3):
        _fail("you used fractions (0.5998 ...): the paper's softmax takes the accuracies in "
              "percent (59.98 ...), which is why its weights are so peaked.")
    if not math.isclose(got.sum(), 1.0, rel_tol=1e-3):
        _fail(f"weights must sum to 1 (Eq. 1); yours sum to {got.sum():.4f}: divide by the sum "
              f"of the exponentials.")
    if np.allclose(got, 1 / len(x)):
        _fail("these are the uniform weights; the offline weights favour the better teachers.")
    if np.allclose(got, x / x.sum(), rtol=1e-3):
        _fail("you normalised the accuracies linearly; the paper takes a softmax (exponentials).")
    _fail(f"expected {np.array2string(want, precision=4)}: w_k = exp(acc_k) / sum_j exp(acc_j), "
          f"subtracting max(acc) first keeps exp() from overflowing.")
    return False


def check_best_teacher_per_pair(answer: Mapping[str, str], pair_rows: Sequence[Mapping], *,
                                kind: str = "appearance", exclude: Sequence[str] = ("tiny",),
                                key: str = "nn1_acc") -> bool:
    """For each confusable pair of ``kind``: the teacher whose frozen features separate it best
    (highest ``key`` in :func:`dtgkit.studies.teacher_probes.pair_separation`'s rows; ties all
    count as right)."""
    best: dict[str, tuple[float, set[str]]] = {}
    for r in pair_rows:
        if r["kind"] != kind or r["teacher"] in exclude:
            continue
        score = float(r[key])
        top, names = best.get(r["pair"], (-math.inf, set()))
        if score > top:
            best[r["pair"]] = (score, {r["teacher"]})
        elif score == top:
            names.add(r["teacher"])
    if not isinstance(answer, Mapping):
        _fail("answer with a dict: pair ('A/B', as in the rows' 'pair') -> teacher spec.")
    missing = sorted(set(best) - set(answer))
    if missing:
        _fail(f"no answer for the {kind}-only pair(s) {missing}.")
    wrong = []
    for pair, (score, names) in best.items():
        if answer[pair] not in names:
            got = next((float(r[key]) for r in pair_rows if r["pair"] == pair
                        and r["teacher"] == answer[pair]), None)
            if answer[pair] in exclude:
                wrong.append(f"{pair}: {answer[pair]} is the random baseline, not a teacher")
            else:
                wrong.append(f"{pair}: {answer[pair]} scores "
                             f"{'?' if got is None else f'{got:.1f}'} but {sorted(names)} score "
                             f"{score:.1f}")
    if wrong:
        _fail("; ".join(wrong) + f" (pick the highest '{key}' among the pair's rows).")
    chance = np.mean([float(r["chance"]) for r in pair_rows if r["kind"] == kind])
    return _ok(", ".join(f"{p}: {sorted(n)} ({s:.1f} %)" for p, (s, n) in best.items())
               + f". Compare with the chance level ({chance:.0f} %) before calling it separated.")


# ------------------------------------------------------------------ 03 queue dynamics
def check_queue_state(ptr: int, video_ids: Sequence[int], *, K: int = 10, batch: int = 4,
                      steps: int = 7) -> bool:
    """The queue pointer and the video ids it holds (oldest first) after ``steps`` enqueues of
    ``batch`` videos numbered 0, 1, 2 ... into a queue of size ``K``."""
    import torch

    from dtgkit.dtg.queue import GuidanceQueue

    q = GuidanceQueue(dim=2, K=K)
    for s in range(steps):
        q.enqueue(torch.zeros(batch, 2), video_ids=torch.arange(batch) + batch * s, step=s + 1)
    want_ptr = int(q.ptr)
    want_ids = q.video_ids[q.ordered_indices()].tolist()
    got_ids = _int_list(video_ids, "the video ids")
    if int(ptr) != want_ptr:
        if int(ptr) == steps * batch:
            _fail(f"{steps} x {batch} = {steps * batch} keys were written, but the pointer wraps "
                  f"around: it is taken modulo K = {K}.")
        _fail(f"the pointer is where the next key goes: (keys written) mod K = "
              f"{steps * batch} mod {K}; you gave {ptr}.")
    if got_ids == want_ids[::-1]:
        _fail("these are newest first; list the entries oldest first (the next to be overwritten "
              "is the oldest).")
    if got_ids != want_ids:
        _fail(f"the queue holds the last K = {K} keys written: videos "
              f"{steps * batch - K}..{steps * batch - 1}, oldest first; you gave {got_ids}.")
    return _ok(f"ptr = {steps * batch} mod {K} = {want_ptr}; the queue holds videos "
               f"{want_ids[0]}..{want_ids[-1]}, the last K keys, oldest first.")


def check_prediction(prediction: str, measured: str, options: Sequence[str], why: str) -> bool:
    """Compare a prediction (one of ``options``) with what was measured; explains either way
    and fails only when the prediction is not one of the options."""
    if prediction not in options:
        _fail(f"predict one of {list(options)}, got {prediction!r}.")
    verdict = "Your prediction matches the measurement" if prediction == measured else \
        f"You predicted {prediction!r}; the run shows {measured!r}"
    print(f"{verdict}. {why}")
    return prediction == measured


def queue_trend(sweep: Sequence[Mapping], key: str, along: str, fixed: str) -> str:
    """How ``key`` moves as ``along`` grows, for every value of ``fixed`` in a
    :func:`dtgkit.studies.queue_dynamics.queue_sweep`: ``"falls"``, ``"rises"`` or ``"mixed"``."""
    trends = set()
    for value in sorted({r[fixed] for r in sweep}):
        rows = sorted((r for r in sweep if r[fixed] == value), key=lambda r: r[along])
        first, last = rows[0][key], rows[-1][key]
        trends.add("falls" if last < first else "rises" if last > first else "flat")
    return trends.pop() if len(trends) == 1 else "mixed"


# ------------------------------------------------------------------ 04 DTG vs DistInit
def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def check_own_retrieval(fn: Callable[[np.ndarray, np.ndarray], float], seed: int = 0) -> bool:
    """A student's ``own_retrieval(anchors, guidance)``: the fraction of samples whose own
    guidance is the most similar (cosine) to their anchor, against
    :func:`dtgkit.studies.geometry.geometry_metrics`."""
    from dtgkit.studies.geometry import geometry_metrics

    rng = np.random.default_rng(seed)
    cases = []
    g = rng.normal(size=(12, 3))
    cases.append(("anchors = guidance", g.copy(), g))
    cases.append(("random anchors", rng.normal(size=(12, 3)), g))
    scaled = g + 0.3 * rng.normal(size=g.shape)
    scaled[::2] *= 25.0  # long vectors: a dot product without normalising picks these
    cases.append(("anchors of very different lengths", scaled, g))
    asym = rng.normal(size=(12, 3))
    cases.append(("a case where rows and columns disagree", asym, asym[::-1] + 0.5 * rng.normal(size=(12, 3))))
    for name, a, gg in cases:
        want = geometry_metrics(a, gg)["own_retrieval"]
        try:
            got = float(fn(a.copy(), gg.copy()))
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001 - the student's code may raise anything: say what
            _fail(f"{name}: your function raised {type(err).__name__}: {err}")
        if not math.isclose(got, want, abs_tol=1e-9):
            an, gn = _unit_rows(a), _unit_rows(gg)
            own = np.arange(len(a))
            mistakes = {
                " Normalise the rows to unit length first: the similarity is a cosine, and a raw "
                "dot product favours long vectors.": float(np.mean((a @ gg.T).argmax(axis=1) == own)),
                " For each anchor i (a row of a @ g.T) take the argmax over the guidance "
                "(axis=1), not over the anchors (axis=0).": float(np.mean((an @ gn.T).argmax(axis=0) == own)),
            }
            hint = next((h for h, v in mistakes.items() if math.isclose(got, v, abs_tol=1e-9)
                         and not math.isclose(v, want, abs_tol=1e-9)), "")
            _fail(f"{name}: expected {want:.4f}, your function gave {got:.4f}.{hint}")
    return _ok("a_i is nearest its own g_i for that fraction of i: "
               "mean(argmax_j cos(a_i, g_j) == i).")


def check_distinit_trap(seed: int, why: str, *, steps: int, lr: float, tau: float,
                        num_samples: int = 12, num_classes: int = 3) -> bool:
    """A toy (``student="free"``, 2-D) on which DistInit leaves more anchors on the wrong side
    of their guidance (``a_i . g_i < 0``) than DTG, and why (``why``: "a", "b" or "c" of the
    notebook's question; "b": L1 on the circle has local minima)."""
    from dtgkit.studies import geometry as G

    toy = G.toy_problem(num_samples, num_classes, 2, student="free", seed=int(seed))
    traces = G.fit_side_by_side(toy, steps=steps, lr=lr, tau=tau)
    stuck = {m: int(((tr.anchors[-1] * toy.guidance).sum(1) < 0).sum()) for m, tr in traces.items()}
    if stuck["distinit"] <= stuck["dtg"]:
        _fail(f"seed {seed}: DistInit leaves {stuck['distinit']} anchor(s) with a.g < 0, DTG "
              f"{stuck['dtg']}; try other seeds (a loop over seeds counting a.g < 0 for both "
              f"methods finds one).")
    explain = {"a": "DistInit has no negatives, so it cannot push anchors apart; but a stuck "
                    "anchor is far from its *own* guidance, which the positive term alone should "
                    "fix: something stops it.",
               "c": "the learning rate is the same for both methods; the stuck anchors sit at a "
                    "stationary point of the L1 loss, and a smaller step would not move them."}
    if why != "b":
        _fail(f"seed {seed} is a good find (DistInit {stuck['distinit']} stuck, DTG "
              f"{stuck['dtg']}), but the reason is not ({why}): "
              + explain.get(str(why), f"answer 'a', 'b' or 'c', not {why!r}.")
              + " Look at |a1 - g1| + |a2 - g2| as a moves along the circle from the mirror image "
                "of g.")
    return _ok(f"seed {seed}: DistInit {stuck['distinit']} anchor(s) stuck, DTG {stuck['dtg']}. "
               f"On the unit circle the L1 distance to g has local minima at g's mirror images "
               f"across the axes (moving away first increases |a1 - g1| + |a2 - g2|); the cosine "
               f"in DTG's InfoNCE has a single maximum at g.")


# ------------------------------------------------------------------ 05 differentiated teachers
def check_beats_preset(weights: Sequence[float], space, preset: Sequence[float], *,
                       name: str = "offline") -> bool:
    """Weights whose fused guidance space beats ``preset``'s: a higher kNN accuracy, or the same
    kNN accuracy and a higher silhouette (:meth:`dtgkit.studies.guidance_space.GuidanceSpace.evaluate`)."""
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != len(space.names):
        _fail(f"one weight per teacher ({len(space.names)}: {space.names}), you gave {w.size}.")
    if (w < 0).any() or w.sum() <= 0:
        _fail("weights must be >= 0 and not all 0 (they are normalised to sum to 1).")
    mine = space.evaluate(w / w.sum(), with_pca=False)
    ref = space.evaluate(np.asarray(preset, dtype=float), with_pca=False)
    a = (round(mine["knn_acc"], 6), mine["silhouette"])
    b = (round(ref["knn_acc"], 6), ref["silhouette"])
    line = (f"yours: kNN {a[0]:.1f} %, silhouette {a[1]:.3f}; {name}: kNN {b[0]:.1f} %, "
            f"silhouette {b[1]:.3f}")
    if not a > b:
        _fail(f"{line}. Search the weights: e.g. every combination on a grid of step 0.25 "
              f"(they must sum to 1), or random draws from a Dirichlet, scored with space.evaluate.")
    return _ok(f"{line}. Remember the test set's size: one test video is "
               f"{100 / max(1, int((~np.asarray(space.train_mask)).sum())):.1f} points of kNN accuracy.")


# ------------------------------------------------------------------ 06 training runs
def lab_row(suite: str, arm: str, *, results: str | Path = report.RESULTS,
            metric: str = "acc1") -> dict[str, float]:
    """The committed mean, sample std and seeds of one arm of a suite (what a live run at the
    same budget is compared with)."""
    _, summary = report.load_suite(suite, results)
    row = next((r for r in summary if r["arm"] == arm), None)
    if row is None:
        raise ValueError(f"{suite} has no arm {arm!r}; arms: {[r['arm'] for r in summary]}")
    return {"mean": row[f"{metric}_mean"], "std": row[f"{metric}_std"], "seeds": row["n"],
            "label": row["label"]}


def check_table_placement(value: float, rank: int, within_spread: bool, suite: str, arm: str, *,
                          results: str | Path = report.RESULTS, metric: str = "acc1") -> bool:
    """Place a live run's ``value`` in the committed ``suite``: its ``rank`` (1 = best) among
    the rows' means with the live value in place of ``arm``'s, and whether it lies within
    ``arm``'s committed mean ± std."""
    _, summary = report.load_suite(suite, results)
    others = [r[f"{metric}_mean"] for r in summary if r["arm"] != arm
              and not math.isnan(r.get(f"{metric}_mean", float("nan")))]
    want_rank = 1 + sum(m > value for m in others)
    ref = lab_row(suite, arm, results=results, metric=metric)
    inside = abs(value - ref["mean"]) <= ref["std"]
    if int(rank) != want_rank:
        _fail(f"{sum(m > value for m in others)} of the other {len(others)} rows have a higher "
              f"mean than your {value:.2f}, so it ranks {want_rank}, not {rank}.")
    if bool(within_spread) != inside:
        _fail(f"the committed {ref['label']} is {ref['mean']:.2f} ± {ref['std']:.2f} over "
              f"{ref['seeds']} seeds; {value:.2f} is {'inside' if inside else 'outside'} "
              f"[{ref['mean'] - ref['std']:.2f}, {ref['mean'] + ref['std']:.2f}].")
    return _ok(f"rank {want_rank} of {len(others) + 1}; {'inside' if inside else 'outside'} the "
               f"committed {ref['mean']:.2f} ± {ref['std']:.2f}"
               + (": one more seed of the same run, as far as this table can tell." if inside else
                  ": a different budget, data or seed shows; compare the configs before the numbers."))


def check_step_count(answer: int, steps_run: int, *, num_videos: int, batch_size: int, epochs: int,
                     max_steps_per_epoch: int = 0) -> bool:
    """The optimiser steps of a run: ``floor(videos / batch)`` per epoch (the last, partial
    batch is dropped), capped by ``max_steps_per_epoch``, times the epochs; ``steps_run`` is what
    the run reported (``results["steps"]``)."""
    per_epoch = num_videos // batch_size
    if max_steps_per_epoch:
        per_epoch = min(per_epoch, max_steps_per_epoch)
    want = per_epoch * epochs
    if want != steps_run:
        raise ValueError(f"the run made {steps_run} steps but the budget gives {want}: were the "
                         f"arguments right (training videos {num_videos}, batch {batch_size}, "
                         f"epochs {epochs}, max steps per epoch {max_steps_per_epoch})?")
    got = int(answer)
    if got == want:
        return _ok(f"{num_videos} // {batch_size} = {num_videos // batch_size} full batches per "
                   f"epoch{f', capped at {max_steps_per_epoch}' if max_steps_per_epoch else ''}, "
                   f"x {epochs} epoch(s) = {want} steps. Every number a run reports rests on this "
                   f"many updates of the student.")
    ceil = -(-num_videos // batch_size)
    if got == min(ceil, max_steps_per_epoch or ceil) * epochs and ceil != num_videos // batch_size:
        _fail("the last, partial batch is dropped (drop_last=True: a batch of a few clips would "
              "give the queue and BatchNorm odd statistics): use floor division.")
    if got == per_epoch:
        _fail(f"that is one epoch; the run has {epochs}.")
    if max_steps_per_epoch and got == (num_videos // batch_size) * epochs:
        _fail(f"pretrain.max_steps_per_epoch = {max_steps_per_epoch} caps every epoch.")
    _fail(f"the run made {want} steps; count the full batches of {batch_size} among "
          f"{num_videos} training videos per epoch, times the epochs.")
    return False


def check_claim_verdict(diffs: Sequence[float], verdict: str, suite: str, arm_a: str, arm_b: str, *,
                        results: str | Path = report.RESULTS, metric: str = "acc1") -> bool:
    """The per-seed differences ``arm_a - arm_b`` of a committed suite and the claim's verdict
    under :func:`dtgkit.experiments.report.verdict` ("holds" only when A won every seed)."""
    rows, _ = report.load_suite(suite, results)
    by_seed = {arm: {r["seed"]: float(r[metric]) for r in rows if r["arm"] == arm and not r.get("skipped")}
               for arm in (arm_a, arm_b)}
    seeds = sorted(set(by_seed[arm_a]) & set(by_seed[arm_b]))
    want = [by_seed[arm_a][s] - by_seed[arm_b][s] for s in seeds]
    got = [float(d) for d in np.asarray(diffs, dtype=float).ravel()]
    if len(got) != len(want):
        _fail(f"one difference per seed ({len(want)} seeds: {seeds}), you gave {len(got)}.")
    if np.allclose(got, [-d for d in want]) and not np.allclose(want, 0):
        _fail(f"the sign is flipped: the claim is {arm_a} beats {arm_b}, so take {arm_a} - {arm_b}.")
    if not np.allclose(got, want, atol=1e-6):
        _fail(f"expected {[round(d, 2) for d in want]} (seed by seed, the same seed in both arms: "
              f"a paired difference); you gave {[round(d, 2) for d in got]}.")
    want_verdict = report.verdict(report.paired_difference(rows, arm_a, arm_b, metric))
    if verdict != want_verdict:
        mean = float(np.mean(want))
        _fail(f"the rule is strict: 'holds' only when A won in every seed, 'contradicted' when B "
              f"won in every seed, else 'inconclusive'; with differences "
              f"{[round(d, 2) for d in want]} (mean {mean:+.2f}) that is {want_verdict!r}"
              + (": a positive mean is not enough." if mean > 0 and want_verdict != "holds" else "."))
    return _ok(f"{arm_a} - {arm_b} per seed: {[round(d, 2) for d in want]} -> {want_verdict}.")


# ------------------------------------------------------------------ 07 supervised DTG, t-SNE
def check_initial_contrast_loss(answer: float, queue_size: int, first_logged: float | None = None) -> bool:
    """The contrastive loss L_CT of an untrained student: log(K + 1) (a uniform softmax over
    the positive and K negatives), and how the run's first logged value compares."""
    want = math.log(queue_size + 1)
    got = float(answer)
    seen = "" if first_logged is None else (
        f" The run logged {first_logged:.3f} at its first step: "
        + ("close to chance, as expected from random features." if abs(first_logged - want) < 0.5
           else "not at chance: the first logged step already includes some training, or the "
                "features were not random."))
    if math.isclose(got, want, rel_tol=1e-3):
        return _ok(f"log({queue_size} + 1) = {want:.3f}: with random features every one of the "
                   f"K + 1 logits is alike, so the positive gets 1 / (K + 1).{seen}")
    if math.isclose(got, math.log(queue_size), rel_tol=1e-3):
        _fail(f"log(K) counts only the negatives; the softmax runs over the positive and the K "
              f"negatives: log(K + 1) = {want:.3f}.")
    if math.isclose(got, math.log10(queue_size + 1), rel_tol=1e-3):
        _fail("cross-entropy uses the natural logarithm (math.log), not log10.")
    if math.isclose(got, 0.1 * want, rel_tol=1e-3):
        _fail("that is alpha * L_CT; the question asks for L_CT itself, before the factor alpha.")
    _fail(f"a uniform softmax over K + 1 = {queue_size + 1} logits gives -log(1 / (K + 1)); you "
          f"gave {got:.3f}.")
    return False


def check_feature_silhouettes(answer: Mapping[str, float], better: str, fig) -> bool:
    """The cosine silhouette of each arm's test features (the classes Figure 4 shows), against
    the scores :func:`dtgkit.viz.figures.figure4` computed, and which arm separates its classes
    better in the feature space."""
    scores = {label: s["feature_silhouette"] for label, s in fig.scores.items()}
    if set(answer) != set(scores):
        _fail(f"answer with a dict over the panels {sorted(scores)}.")
    for label, want in scores.items():
        got = float(answer[label])
        if not math.isclose(got, want, abs_tol=1e-4):
            _fail(f"{label}: expected {want:.4f}, you gave {got:.4f}. Use cosine distances "
                  f"(dtgkit.metrics.cosine_distances) on the features of the classes shown, and "
                  f"dtgkit.metrics.silhouette with their labels.")
    best = max(scores, key=scores.get)
    if better != best:
        _fail(f"{best} has the higher feature silhouette ({scores[best]:.3f}).")
    tsne_best = max(fig.scores, key=lambda k: fig.scores[k]["silhouette"])
    agree = "agrees" if tsne_best == best else "disagrees: the picture alone would mislead"
    return _ok(f"{best} separates its classes better in the feature space "
               f"({scores[best]:.3f}); the t-SNE silhouette {agree}.")
