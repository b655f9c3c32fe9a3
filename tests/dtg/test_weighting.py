"""Teacher weightings (Eq. 1, Sec. 4.3.3): the paper's numbers and loop references."""

from __future__ import annotations

import math

import pytest
import torch

from dtgkit.dtg import weighting as W


def test_uniform():
    torch.testing.assert_close(W.uniform(4), torch.full((4,), 0.25, dtype=torch.float64))
    with pytest.raises(ValueError):
        W.uniform(0)


def test_fixed_normalises_and_names_bad_values():
    torch.testing.assert_close(W.fixed([1, 3]), torch.tensor([0.25, 0.75], dtype=torch.float64))
    torch.testing.assert_close(W.fixed([0, 2]), torch.tensor([0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\[1.0, -2.0\]"):
        W.fixed([1.0, -2.0])
    with pytest.raises(ValueError, match=r"all be zero, got \[0.0, 0.0\]"):
        W.fixed([0, 0])
    with pytest.raises(ValueError, match="nan"):
        W.fixed([1.0, float("nan")])


def test_offline_reproduces_the_papers_example():
    """Sec. 4.3.3: softmax of (59.98, 49.96, 62.01, 61.83) "such as (0.067, 3.0e-6, 0.51, 0.43)".

    Exact softmax: (0.066783, 2.9719e-6, 0.508489, 0.424726). Printed to the paper's digits:
    0.067, 3.0e-6, 0.51 match; the last is 0.42, not the paper's 0.43 (the paper's four printed
    numbers sum to 1.007). Tolerance against the printed numbers: 0.006 absolute, and the tiny
    Places weight to 2 significant digits.
    """
    w = W.offline([59.98, 49.96, 62.01, 61.83])
    exact = torch.tensor([0.0667826442, 2.97189117e-6, 0.508488820, 0.424725564],
                         dtype=torch.float64)
    torch.testing.assert_close(w, exact, rtol=1e-8, atol=0)
    assert float(w.sum()) == pytest.approx(1.0)
    paper = [0.067, 3.0e-6, 0.51, 0.43]
    for got, printed in zip(w.tolist(), paper):
        assert abs(got - printed) < 0.006
    assert f"{float(w[1]):.1e}" == "3.0e-06"
    assert round(float(w[0]), 3) == 0.067 and round(float(w[2]), 2) == 0.51
    assert round(float(w[3]), 2) == 0.42  # the paper prints 0.43


def test_offline_temperature_and_errors():
    w = W.offline([60.0, 50.0], temperature=10.0)
    e = math.exp(1.0)
    assert w.tolist() == pytest.approx([e / (e + 1), 1 / (e + 1)])
    with pytest.raises(ValueError, match="look like fractions"):
        W.offline([0.5998, 0.4996])
    with pytest.raises(ValueError, match="percent"):
        W.offline([120.0, 50.0])
    with pytest.raises(ValueError, match="temperature"):
        W.offline([60.0, 50.0], temperature=0)


def test_online1_softmax_matches_loop_and_has_no_grad():
    torch.manual_seed(0)
    s = (torch.rand(5, 3, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    t = 0.07
    w = W.online1(s, temperature=t)
    assert not w.requires_grad
    for n in range(5):
        ex = [math.exp(x / t) for x in s[n].tolist()]
        assert w[n].tolist() == pytest.approx([x / sum(ex) for x in ex])
    # the teacher whose positive is most similar gets the largest weight
    assert torch.equal(w.argmax(1), s.detach().argmax(1))


def test_online1_proportional():
    s = torch.tensor([[0.2, 0.6, -0.4], [-0.1, -0.2, -0.3]])
    w = W.online1(s, mode="proportional")
    torch.testing.assert_close(w[0], torch.tensor([0.25, 0.75, 0.0]))
    torch.testing.assert_close(w[1], torch.full((3,), 1 / 3))  # all <= 0: uniform
    with pytest.raises(ValueError, match="mode"):
        W.online1(s, mode="linear")


def _rank_reference(logits, mask=None):
    out = []
    for n in range(logits.shape[0]):
        row = logits[n].tolist()
        negs = [row[1 + j] for j in range(len(row) - 1) if not (mask is not None and mask[n, j])]
        out.append(sum(1 for x in negs if x >= row[0]) / max(len(negs), 1))
    return out


def test_positive_rank_matches_loop():
    torch.manual_seed(1)
    logits = torch.randn(6, 10, dtype=torch.float64)
    logits[0, 0] = 99.0  # top: rank 0
    logits[1, 0] = -99.0  # last: rank 1
    mask = torch.rand(6, 9) < 0.3
    assert W.positive_rank(logits).tolist() == pytest.approx(_rank_reference(logits))
    assert W.positive_rank(logits, mask).tolist() == pytest.approx(_rank_reference(logits, mask))
    assert float(W.positive_rank(logits)[0]) == 0.0 and float(W.positive_rank(logits)[1]) == 1.0


def test_online2_softmax_and_reciprocal_match_loop():
    torch.manual_seed(2)
    logits = [torch.randn(4, 8, dtype=torch.float64) for _ in range(3)]
    t = 0.1
    w = W.online2(logits, temperature=t)
    ranks = [_rank_reference(l) for l in logits]  # M lists of N
    for n in range(4):
        ex = [math.exp(-ranks[k][n] / t) for k in range(3)]
        assert w[n].tolist() == pytest.approx([x / sum(ex) for x in ex])
    wr = W.online2(logits, mode="reciprocal")
    for n in range(4):
        inv = [1.0 / (1 + round(ranks[k][n] * 7)) for k in range(3)]
        assert wr[n].tolist() == pytest.approx([x / sum(inv) for x in inv])
    assert torch.allclose(w.sum(1), torch.ones(4, dtype=torch.float64))


def test_online2_prefers_the_teacher_ranking_its_positive_higher():
    good = torch.tensor([[5.0, 1.0, 0.0, -1.0]])  # positive on top
    bad = torch.tensor([[0.0, 1.0, 2.0, -1.0]])  # two negatives above
    w = W.online2([good, bad])
    assert float(w[0, 0]) > float(w[0, 1])
    with pytest.raises(ValueError):
        W.online2([])


def test_temperature_defaults_live_in_one_place():
    assert W.temperature_for("offline") == 1.0 and W.temperature_for("offline", 0.0) == 1.0
    assert W.temperature_for("online1", None, tau=0.2) == 0.2
    assert W.temperature_for("online2") == 0.1 and W.temperature_for("online2", 0.5) == 0.5
    with pytest.raises(ValueError, match="no temperature"):
        W.temperature_for("uniform")


def test_offline_fraction_check_can_be_turned_off():
    with pytest.raises(ValueError, match="fractions"):
        W.offline([0.5, 0.2])
    w = W.offline([0.5, 0.2], percent_check=False)
    assert w.sum().item() == pytest.approx(1.0) and w[0] > w[1]
