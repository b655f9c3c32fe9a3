"""The labs' self-checks (dtgkit.labs): each accepts the right answer with an explanation and
rejects the usual wrong answers with a message that says what is wrong and how to find it."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dtgkit import labs as L
from dtgkit.data.sampling import tsn_indices
from dtgkit.experiments import report

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "results"


def _fails(match: str, fn, *args, **kwargs) -> None:
    with pytest.raises(L.LabCheckError, match=match):
        fn(*args, **kwargs)


def test_tsn_test_indices(capsys):
    assert L.check_tsn_test_indices([2, 6, 11, 16, 20, 25, 30, 34])
    assert "Correct" in capsys.readouterr().out
    assert tsn_indices(37, 8, train=False).tolist() == [2, 6, 11, 16, 20, 25, 30, 34]
    _fails("integer segment length", L.check_tsn_test_indices, [int(i * 4 + 2) for i in range(8)])
    _fails("1-based", L.check_tsn_test_indices, [3, 7, 12, 17, 21, 26, 31, 35])
    _fails("one index per segment", L.check_tsn_test_indices, [2, 6])
    _fails("whole numbers", L.check_tsn_test_indices, ["a"] * 8)


def test_identical_train_views():
    assert L.check_identical_train_views(list(range(1, 16)))
    _fails(r"missing N = \[8, 9", L.check_identical_train_views, list(range(1, 8)))
    _fails("not always identical", L.check_identical_train_views, list(range(1, 17)))


def test_offline_weights():
    assert L.check_offline_weights([0.067, 3e-6, 0.508, 0.425])
    x = np.array([59.98, 49.96, 62.01, 61.83])
    _fails("fractions", L.check_offline_weights, np.exp(x / 100) / np.exp(x / 100).sum())
    _fails("uniform", L.check_offline_weights, [0.25] * 4)
    _fails("linearly", L.check_offline_weights, x / x.sum())


def test_best_teacher_per_pair():
    rows = [{"kind": "appearance", "pair": "A/B", "teacher": t, "nn1_acc": v, "chance": 43.0}
            for t, v in (("imagenet", 50.0), ("scenes", 37.5), ("tiny", 75.0))]
    rows.append({"kind": "motion", "pair": "C/D", "teacher": "imagenet", "nn1_acc": 40.0, "chance": 43.0})
    assert L.check_best_teacher_per_pair({"A/B": "imagenet"}, rows, exclude=["tiny"])
    _fails("random baseline", L.check_best_teacher_per_pair, {"A/B": "tiny"}, rows, exclude=["tiny"])
    _fails("scores 37.5", L.check_best_teacher_per_pair, {"A/B": "scenes"}, rows, exclude=["tiny"])
    _fails("no answer", L.check_best_teacher_per_pair, {}, rows, exclude=["tiny"])


def test_queue_state():
    assert L.check_queue_state(8, list(range(18, 28)))
    _fails("wraps around", L.check_queue_state, 28, list(range(18, 28)))
    _fails("newest first", L.check_queue_state, 8, list(range(27, 17, -1)))
    _fails("last K = 10", L.check_queue_state, 8, list(range(10)))


def test_prediction_and_trend(capsys):
    sweep = [{"K": k, "tau": t, "acc": 1.0 / k + t} for k in (4, 16) for t in (0.07, 0.5)]
    assert L.queue_trend(sweep, "acc", along="K", fixed="tau") == "falls"
    assert L.queue_trend(sweep, "acc", along="tau", fixed="K") == "rises"
    assert L.check_prediction("falls", "falls", ["rises", "falls"], "why") is True
    assert L.check_prediction("rises", "falls", ["rises", "falls"], "why") is False
    assert "the run shows 'falls'" in capsys.readouterr().out
    _fails("predict one of", L.check_prediction, "up", "falls", ["rises", "falls"], "why")


def _own(a, g):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    return float(np.mean((a @ g.T).argmax(1) == np.arange(len(a))))


def test_own_retrieval():
    assert L.check_own_retrieval(_own)
    _fails("Normalise", L.check_own_retrieval, lambda a, g: float(np.mean((a @ g.T).argmax(1) == np.arange(len(a)))))
    _fails("axis=1", L.check_own_retrieval, lambda a, g: _own(g, a))
    _fails("raised ZeroDivisionError", L.check_own_retrieval, lambda a, g: 1 / 0)
    with pytest.raises(NotImplementedError):  # the student copy's stub is not a wrong answer
        L.check_own_retrieval(lambda a, g: (_ for _ in ()).throw(NotImplementedError()))


def test_distinit_trap():
    kw = {"steps": 150, "lr": 0.05, "tau": 0.1}
    assert L.check_distinit_trap(1, "b", **kw)
    _fails("the reason is not", L.check_distinit_trap, 1, "a", **kw)
    _fails("try other seeds", L.check_distinit_trap, 4, "b", **kw)


def test_initial_contrast_loss():
    assert L.check_initial_contrast_loss(math.log(17), 16, 2.9)
    _fails("counts only the negatives", L.check_initial_contrast_loss, math.log(16), 16)
    _fails("log10", L.check_initial_contrast_loss, math.log10(17), 16)
    _fails("alpha", L.check_initial_contrast_loss, 0.1 * math.log(17), 16)


def test_step_count():
    assert L.check_step_count(10, 10, num_videos=42, batch_size=4, epochs=1)
    _fails("partial batch", L.check_step_count, 11, 10, num_videos=42, batch_size=4, epochs=1)
    _fails("one epoch", L.check_step_count, 10, 20, num_videos=42, batch_size=4, epochs=2)
    _fails("caps every epoch", L.check_step_count, 20, 6, num_videos=42, batch_size=4, epochs=2,
           max_steps_per_epoch=3)
    with pytest.raises(ValueError, match="the run made 7 steps"):
        L.check_step_count(10, 7, num_videos=42, batch_size=4, epochs=1)


# ------------------------------------------------------------------ against the committed results
def test_best_arm_and_claim_verdict_read_the_committed_results():
    rows, summary = report.load_suite("table2", RESULTS)
    arms = [r["arm"] for r in summary]
    ranked = sorted(summary, key=lambda r: r["acc1_mean"], reverse=True)
    best, second = ranked[0]["arm"], ranked[1]["arm"]
    real = report.verdict(report.paired_difference(rows, best, second, "acc1")) == "holds"
    assert L.check_best_arm(best, real, "table2", arms, results=RESULTS)
    _fails("lead_is_real is", L.check_best_arm, best, not real, "table2", arms, results=RESULTS)
    _fails("sort the summary", L.check_best_arm, ranked[-1]["arm"], real, "table2", arms, results=RESULTS)

    rows1, _ = report.load_suite("table1", RESULTS)
    by_seed = {a: {r["seed"]: float(r["acc1"]) for r in rows1 if r["arm"] == a}
               for a in ("dtg-imagenet", "random-init")}
    diffs = [by_seed["dtg-imagenet"][s] - by_seed["random-init"][s] for s in sorted(by_seed["dtg-imagenet"])]
    want = report.verdict(report.paired_difference(rows1, "dtg-imagenet", "random-init", "acc1"))
    assert L.check_claim_verdict(diffs, want, "table1", "dtg-imagenet", "random-init", results=RESULTS)
    _fails("sign is flipped", L.check_claim_verdict, [-d for d in diffs], want, "table1", "dtg-imagenet",
           "random-init", results=RESULTS)
    wrong = "holds" if want != "holds" else "inconclusive"
    _fails("the rule is strict", L.check_claim_verdict, diffs, wrong, "table1", "dtg-imagenet",
           "random-init", results=RESULTS)


def test_table_placement():
    _, summary = report.load_suite("table2", RESULTS)
    arm = summary[0]["arm"]
    ref = L.lab_row("table2", arm, results=RESULTS)
    value = ref["mean"]
    rank = 1 + sum(r["acc1_mean"] > value for r in summary if r["arm"] != arm)
    assert L.check_table_placement(value, rank, True, "table2", arm, results=RESULTS)
    _fails("so it ranks", L.check_table_placement, value, rank + 1, True, "table2", arm, results=RESULTS)
    _fails("is inside", L.check_table_placement, value, rank, False, "table2", arm, results=RESULTS)
    with pytest.raises(ValueError, match="no arm"):
        L.lab_row("table2", "nope", results=RESULTS)
