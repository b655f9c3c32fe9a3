"""DTGNet, DistInitNet, MoCoVideoNet with tiny modules defined here (no model registry)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dtgkit.dtg import create_method, list_methods
from dtgkit.dtg.baselines import DistInitNet, MoCoVideoNet
from dtgkit.dtg.losses import info_nce_logits, info_nce_loss
from dtgkit.dtg.net import DTGNet
from dtgkit.dtg.queue import GuidanceQueue

N, T, S = 4, 3, 8  # batch, num_segments, frame size


class TinyStudent(nn.Module):
    """Mean colour of each frame -> linear -> mean over T."""

    def __init__(self, feat_dim: int = 6, bn: bool = False) -> None:
        super().__init__()
        self.feat_dim = feat_dim
        self.fc = nn.Linear(3, feat_dim)
        self.bn = nn.BatchNorm1d(feat_dim) if bn else nn.Identity()

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.fc(clip.mean(dim=(3, 4)))  # N x T x C
        return self.bn(x.mean(dim=1))  # N x C


class TinyTeacher(nn.Module):
    """Frozen per-frame linear features (with BatchNorm, to see eval mode) and a classifier."""

    def __init__(self, feat_dim: int = 5, num_classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.feat_dim, self.num_classes = feat_dim, num_classes
        self.fc = nn.Linear(3, feat_dim)
        self.bn = nn.BatchNorm1d(feat_dim)
        self.cls = nn.Linear(feat_dim, num_classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.bn(self.fc(frames.mean(dim=(2, 3))))  # M x D

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        n, t = clip.shape[:2]
        return self.frame_features(clip.flatten(0, 1)).view(n, t, -1).mean(1)  # N x D

    def classify(self, frames: torch.Tensor) -> torch.Tensor:
        return self.cls(self.frame_features(frames))  # M x C


class UnitHead(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc(x), dim=1)


def _clips(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(N, T, 3, S, S, generator=g), torch.rand(N, T, 3, S, S, generator=g))


def _dtg(teachers, K=7, fusion="loss", seed=0, **kw):
    torch.manual_seed(seed)
    student = TinyStudent()
    dims = {k: t if isinstance(t, int) else t.feat_dim for k, t in teachers.items()}
    if fusion == "loss":
        heads = nn.ModuleDict({k: UnitHead(6, d) for k, d in dims.items()})
    else:
        heads = nn.ModuleDict({"fused": UnitHead(6, sum(dims.values()))})
    return DTGNet(student, teachers, heads, K=K, fusion=fusion, **kw)


def _manual_teacher_loss(net, name, anchor, guidance):
    """Eq. 2 for one teacher, written out with the net's parts (queue state before the step)."""
    with torch.no_grad():
        g = F.normalize(net.teachers[name](guidance), dim=1)  # N x D
    a = net.heads[name](net.student(anchor))  # N x D
    logits = info_nce_logits(a, g, net.queues[name].feats.clone(), net.tau)
    return info_nce_loss(logits, "none")


def test_loss_fusion_matches_manual_and_enqueues_after():
    net = _dtg({"obj": TinyTeacher(5, seed=1), "scene": TinyTeacher(4, seed=2)},
               weighting="fixed", weights=[1.0, 3.0])
    anchor, guidance = _clips()
    ref = (0.25 * _manual_teacher_loss(net, "obj", anchor, guidance)
           + 0.75 * _manual_teacher_loss(net, "scene", anchor, guidance)).mean()
    loss, diag = net(anchor, guidance, video_ids=torch.arange(N), step=3)
    torch.testing.assert_close(loss, ref)
    for k in ("obj", "scene"):
        q = net.queues[k]
        assert int(q.filled) == N and q.steps[:N].tolist() == [3] * N
        g = F.normalize(net.teachers[k](guidance), dim=1)
        torch.testing.assert_close(q.feats[:N], g)
    assert float(diag["weight/obj"]) == pytest.approx(0.25)
    for key in ("loss", "acc", "pos_sim", "neg_sim", "hard_neg_sim", "queue_fill", "queue_age",
                "loss/obj", "acc/obj", "pos_sim/scene", "neg_sim/scene", "weight/scene"):
        assert key in diag and diag[key].dim() == 0 and not diag[key].requires_grad, key


def test_identical_teachers_with_uniform_weights_equal_single_teacher():
    t = TinyTeacher(5, seed=1)
    single = _dtg({"a": t})
    double = _dtg({"a": t, "b": copy.deepcopy(t)})
    double.heads["b"].load_state_dict(double.heads["a"].state_dict())
    single.student.load_state_dict(double.student.state_dict())
    single.heads["a"].load_state_dict(double.heads["a"].state_dict())
    double.queues["b"].load_state_dict(double.queues["a"].state_dict())
    single.queues["a"].load_state_dict(double.queues["a"].state_dict())
    for step in range(3):  # also after the queues filled and wrapped
        anchor, guidance = _clips(step)
        l1, _ = single(anchor, guidance)
        l2, d2 = double(anchor, guidance)
        torch.testing.assert_close(l1, l2)
        assert float(d2["weight/a"]) == pytest.approx(0.5)


def test_feature_fusion_with_one_teacher_equals_loss_fusion():
    t = TinyTeacher(5, seed=1)
    by_loss = _dtg({"a": t})
    by_feat = _dtg({"a": t}, fusion="feature")
    by_feat.student.load_state_dict(by_loss.student.state_dict())
    by_feat.heads["fused"].load_state_dict(by_loss.heads["a"].state_dict())
    by_feat.queues["fused"].load_state_dict(by_loss.queues["a"].state_dict())
    for step in range(3):
        anchor, guidance = _clips(step)
        torch.testing.assert_close(by_loss(anchor, guidance)[0], by_feat(anchor, guidance)[0])


def test_feature_fusion_matches_manual_eq1():
    t1, t2 = TinyTeacher(5, seed=1), TinyTeacher(3, seed=2)
    net = _dtg({"a": t1, "b": t2}, fusion="feature", weighting="fixed", weights=[1, 3])
    anchor, guidance = _clips()
    queue = net.queues["fused"].feats.clone()
    assert queue.shape == (7, 8)
    with torch.no_grad():
        g1 = F.normalize(t1(guidance), dim=1)
        g2 = F.normalize(t2(guidance), dim=1)
    a = net.heads["fused"](net.student(anchor))  # N x 8
    g = F.normalize(torch.cat([0.25 * g1, 0.75 * g2], dim=1), dim=1)  # weighted sum in R^(5+3)
    ref = info_nce_loss(info_nce_logits(a, g, queue, net.tau))
    loss, diag = net(anchor, guidance)
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(net.queues["fused"].feats[:N], g.detach())
    assert "weight/b" in diag and "pos_sim/a" in diag and "acc" in diag


@pytest.mark.parametrize("scale", ["linear", "sqrt"])
def test_feature_fusion_scale_matches_the_weights_widget_space(scale):
    """dtg.fusion_scale: the keys DTGNet enqueues are the fused guidance space of
    dtgkit.studies.guidance_space with the same scale (sqrt: similarities weigh w_k; linear: w_k^2)."""
    from dtgkit.studies.guidance_space import fuse_guidance

    t1, t2 = TinyTeacher(5, seed=1), TinyTeacher(3, seed=2)
    net = _dtg({"a": t1, "b": t2}, fusion="feature", fusion_scale=scale, weighting="fixed",
               weights=[1, 3])
    anchor, guidance = _clips()
    with torch.no_grad():
        g = {"a": t1(guidance).numpy(), "b": t2(guidance).numpy()}
    net(anchor, guidance)
    ref = fuse_guidance(g, [0.25, 0.75], scale=scale)
    torch.testing.assert_close(net.queues["fused"].feats[:N], torch.from_numpy(ref).float(),
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="fusion_scale"):
        _dtg({"a": t1}, fusion="feature", fusion_scale="cubic")


def test_backward_reaches_student_and_heads_only():
    net = _dtg({"a": TinyTeacher(5, seed=1), "b": TinyTeacher(4, seed=2)}, weighting="online1")
    net.train()
    assert all(not t.training for t in net.teachers.values())
    assert all(not p.requires_grad for p in net.teachers.parameters())
    bn_before = net.teachers["a"].bn.running_mean.clone()
    loss, _ = net(*_clips())
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.student.parameters())
    assert all(p.grad is not None for p in net.heads.parameters())
    assert all(p.grad is None for p in net.teachers.parameters())
    assert torch.equal(bn_before, net.teachers["a"].bn.running_mean)  # eval: stats untouched
    ids = {id(p) for p in net.trainable_parameters()}
    assert ids == {id(p) for p in list(net.student.parameters()) + list(net.heads.parameters())}


@pytest.mark.parametrize("weighting", ["uniform", "online1", "online2"])
def test_weightings_give_weights_that_sum_to_one(weighting):
    net = _dtg({"a": TinyTeacher(5, seed=1), "b": TinyTeacher(4, seed=2)}, weighting=weighting)
    for step in range(2):
        loss, diag = net(*_clips(step))
        assert torch.isfinite(loss)
        assert float(diag["weight/a"] + diag["weight/b"]) == pytest.approx(1.0, abs=1e-6)


def test_online1_loss_uses_per_sample_weights():
    net = _dtg({"a": TinyTeacher(5, seed=1), "b": TinyTeacher(4, seed=2)}, weighting="online1")
    anchor, guidance = _clips()
    la = _manual_teacher_loss(net, "a", anchor, guidance)
    lb = _manual_teacher_loss(net, "b", anchor, guidance)
    with torch.no_grad():
        sims = []
        for k in ("a", "b"):
            g = F.normalize(net.teachers[k](guidance), dim=1)
            sims.append((net.heads[k](net.student(anchor)) * g).sum(1))
        w = torch.softmax(torch.stack(sims, 1) / net.tau, dim=1)  # N x 2
    ref = (w[:, 0] * la + w[:, 1] * lb).mean()
    torch.testing.assert_close(net(anchor, guidance)[0], ref)


def test_offline_weighting_needs_accuracies():
    teachers = {"imagenet": TinyTeacher(5, seed=1), "places": TinyTeacher(4, seed=2)}
    net = _dtg(teachers, weighting="offline")
    with pytest.raises(ValueError, match="set_offline_accuracies"):
        net(*_clips())
    with pytest.raises(ValueError, match="lack teachers"):
        net.set_offline_accuracies({"imagenet": 59.98})
    w = net.set_offline_accuracies({"places": 49.96, "imagenet": 59.98})
    assert float(w[0]) == pytest.approx(1 / (1 + 2.718281828 ** -10.02), rel=1e-5)
    _, diag = net(*_clips())
    assert float(diag["weight/imagenet"]) == pytest.approx(float(w[0]))
    net2 = _dtg(teachers, weighting="offline", accuracies=[59.98, 49.96])
    torch.testing.assert_close(net2.static_weights, net.static_weights)


def test_config_errors_name_the_problem():
    t = {"a": TinyTeacher(5, seed=1)}
    with pytest.raises(ValueError, match="fusion must be"):
        _dtg(t, fusion="concat")
    with pytest.raises(ValueError, match="weighting must be"):
        _dtg(t, weighting="online3")
    with pytest.raises(ValueError, match="online2"):
        _dtg(t, fusion="feature", weighting="online2")
    with pytest.raises(ValueError, match="1 weights"):
        _dtg(t, weighting="fixed", weights=[1, 2])
    with pytest.raises(ValueError, match="heads keys"):
        DTGNet(TinyStudent(), t, nn.ModuleDict({"b": UnitHead(6, 5)}))
    with pytest.raises(ValueError, match="queue 'a' has dim 4"):
        DTGNet(TinyStudent(), t, nn.ModuleDict({"a": UnitHead(6, 5)}),
               nn.ModuleDict({"a": GuidanceQueue(4, 7)}))


def test_cached_guidance_feats_equal_teacher_path():
    t = TinyTeacher(5, seed=1)
    net = _dtg({"a": t})
    cached = _dtg({"a": 5})  # teacher given as its feature dim only
    cached.load_state_dict(net.state_dict(), strict=False)
    anchor, guidance = _clips()
    with torch.no_grad():
        feats = {"a": t(guidance)}
    l1, _ = net(anchor, guidance)
    l2, _ = cached(anchor, guidance_feats=feats)
    torch.testing.assert_close(l1, l2)
    with pytest.raises(ValueError, match="feature dim only"):
        cached(anchor, guidance)
    with pytest.raises(ValueError, match="lacks teachers"):
        net(anchor, guidance_feats={"b": feats["a"]})


def test_video_mask_excludes_own_earlier_copy():
    net = _dtg({"a": TinyTeacher(5, seed=1)}, mask="video", K=8)
    anchor, guidance = _clips()
    ids = torch.arange(N)
    net(anchor, guidance, video_ids=ids)
    # second step, same videos: their queued keys must not act as negatives
    q = net.queues["a"]
    m = q.negative_mask(ids)
    assert m[:, :N].equal(torch.eye(N, dtype=torch.bool)) and not m[:, N:].any()
    with torch.no_grad():
        g = F.normalize(net.teachers["a"](guidance), dim=1)
    a = net.heads["a"](net.student(anchor))
    masked = info_nce_loss(info_nce_logits(a, g, q.feats.clone(), net.tau, m))
    unmasked = info_nce_loss(info_nce_logits(a, g, q.feats.clone(), net.tau))
    loss, _ = net(anchor, guidance, video_ids=ids)
    torch.testing.assert_close(loss, masked)
    assert float(masked.detach()) <= float(unmasked.detach())  # one negative fewer


def test_state_dict_round_trip_keeps_queue_and_weights():
    teachers = {"a": TinyTeacher(5, seed=1), "b": TinyTeacher(4, seed=2)}
    net = _dtg(teachers, accuracies=[60.0, 55.0])
    for step in range(3):
        net(*_clips(step), video_ids=torch.arange(N) + step * N, step=step)
    net2 = _dtg(teachers, weighting="offline", seed=5)
    net2.load_state_dict(net.state_dict())
    for k in ("a", "b"):
        for name, buf in net.queues[k].named_buffers():
            assert torch.equal(buf, dict(net2.queues[k].named_buffers())[name])
    torch.testing.assert_close(net2.static_weights, net.static_weights)
    anchor, guidance = _clips(9)
    torch.testing.assert_close(net(anchor, guidance)[0], net2(anchor, guidance)[0])


# ------------------------------------------------------------------------------ DistInit
def test_distinit_l1_value_and_grads():
    t = TinyTeacher(5, seed=1)
    torch.manual_seed(0)
    net = DistInitNet(TinyStudent(), {"a": t}, nn.ModuleDict({"a": UnitHead(6, 5)}))
    anchor, guidance = _clips()
    p = net.heads["a"](net.student(anchor))
    with torch.no_grad():
        tf = F.normalize(t(anchor), dim=1)  # no guidance clip: the teacher sees the anchor
    ref = (p - tf).abs().mean()
    loss, diag = net(anchor)
    torch.testing.assert_close(loss, ref)
    assert set(diag) >= {"loss", "loss/a", "weight/a", "pos_sim", "pos_sim/a"}
    loss.backward()
    assert all(p.grad is None for p in net.teachers.parameters())
    assert net.student.fc.weight.grad is not None
    loss_g, _ = net(anchor, guidance)  # the pair's other view, as DTG gets
    assert not torch.allclose(loss_g, loss)


def test_distinit_l1_summed_over_dimensions():
    t = TinyTeacher(5, seed=1)
    torch.manual_seed(0)
    net = DistInitNet(TinyStudent(), {"a": t}, nn.ModuleDict({"a": UnitHead(6, 5)}), l1_dims="sum")
    anchor, _ = _clips()
    p = net.heads["a"](net.student(anchor))
    with torch.no_grad():
        tf = F.normalize(t(anchor), dim=1)
    torch.testing.assert_close(net(anchor)[0], (p - tf).abs().sum(1).mean())
    with pytest.raises(ValueError, match="l1_dims"):
        DistInitNet(TinyStudent(), {"a": t}, l1_dims="max")


def test_distinit_soft_ce_uses_frame_averaged_teacher_logits():
    t = TinyTeacher(5, num_classes=3, seed=1)
    torch.manual_seed(0)
    net = DistInitNet(TinyStudent(), {"a": t}, loss="soft_ce", heads=None)
    assert isinstance(net.heads["a"], nn.Linear) and net.heads["a"].out_features == 3
    anchor, _ = _clips()
    with torch.no_grad():
        tl = t.classify(anchor.flatten(0, 1)).view(N, T, 3).mean(1)
    s = net.heads["a"](net.student(anchor))
    ref = -(F.softmax(tl, 1) * F.log_softmax(s, 1)).sum(1).mean()
    loss, diag = net(anchor)
    torch.testing.assert_close(loss, ref)
    assert "acc/a" in diag and "acc" in diag


# ---------------------------------------------------------------------------------- MoCo
def _moco(**kw):
    torch.manual_seed(0)
    student = TinyStudent(bn=kw.pop("bn", False))
    return MoCoVideoNet(student, dim=4, K=7, head=UnitHead(6, 4), **kw)


def test_moco_momentum_update_math():
    net = _moco(m=0.9)
    for pq, pk in zip(net.student.parameters(), net.key_student.parameters()):
        assert torch.equal(pq, pk) and not pk.requires_grad
    with torch.no_grad():
        for p in net.student.parameters():
            p.add_(1.0)
        for p in net.head.parameters():
            p.mul_(2.0)
    before = [p.clone() for p in list(net.key_student.parameters()) +
              list(net.key_head.parameters())]
    query = list(net.student.parameters()) + list(net.head.parameters())
    net.momentum_update()
    after = list(net.key_student.parameters()) + list(net.key_head.parameters())
    for b, q, a in zip(before, query, after):
        torch.testing.assert_close(a, 0.9 * b + 0.1 * q)


def test_moco_forward_backward_and_trainable_parameters():
    net = _moco(bn=True)
    net.train()
    anchor, guidance = _clips()
    loss, diag = net(anchor, guidance, video_ids=torch.arange(N), step=0)
    loss.backward()
    assert all(p.grad is None for p in net.key_student.parameters())
    assert all(p.grad is not None for p in net.student.parameters())
    ids = {id(p) for p in net.trainable_parameters()}
    assert ids == {id(p) for p in list(net.student.parameters()) + list(net.head.parameters())}
    assert ids.isdisjoint({id(p) for p in net.key_student.parameters()})
    assert int(net.queue.filled) == N
    for key in ("loss", "acc", "pos_sim", "neg_sim", "queue_fill", "queue_age"):
        assert key in diag
    with pytest.raises(ValueError, match="guidance_clip"):
        net(anchor)


def test_moco_shuffled_key_chunks_are_unshuffled():
    net = _moco(key_bn_splits=2)  # no BatchNorm: chunking must not change the keys
    _, guidance = _clips()
    keys = net._keys(guidance)
    with torch.no_grad():
        direct = F.normalize(net.key_head(net.key_student(guidance)), dim=1)
    torch.testing.assert_close(keys, direct)


def test_moco_loss_matches_manual():
    net = _moco(m=0.5)
    net.eval()  # no momentum step in eval: key encoder == its copy
    anchor, guidance = _clips()
    queue = net.queue.feats.clone()
    q = net.head(net.student(anchor))
    with torch.no_grad():
        k = F.normalize(net.key_head(net.key_student(guidance)), dim=1)
    ref = info_nce_loss(info_nce_logits(q, k, queue, net.tau))
    torch.testing.assert_close(net(anchor, guidance)[0], ref)


# ------------------------------------------------------------------------------- factory
def test_create_method_switches_the_teacher_on_and_off():
    assert list_methods() == ["dtg", "distinit-l1", "distinit-ce", "moco"]
    anchor, guidance = _clips()
    teachers = {"a": TinyTeacher(5, seed=1)}
    heads = lambda d: nn.ModuleDict({"a": UnitHead(6, d)})
    methods = {
        "dtg": create_method("dtg", TinyStudent(), teachers, heads=heads(5), K=7),
        "distinit-l1": create_method("distinit-l1", TinyStudent(), teachers, heads=heads(5)),
        "distinit-ce": create_method("distinit-ce", TinyStudent(), teachers),
        "moco": create_method("moco", TinyStudent(), teachers, dim=4, K=7,
                              head=UnitHead(6, 4)),
    }
    for name, net in methods.items():
        loss, diag = net(anchor, guidance)
        assert torch.isfinite(loss) and "loss" in diag, name
        loss.backward()
        assert all(p.grad is not None for p in net.student.parameters()), name
    with pytest.raises(ValueError, match="unknown method"):
        create_method("simclr", TinyStudent(), teachers)
    with pytest.raises(ValueError, match="at least one teacher"):
        create_method("dtg", TinyStudent(), {})


def test_teacher_names_with_dots_are_module_keys():
    t = TinyTeacher(5, seed=1)
    name = "torchvision:resnet18@w.pth"
    torch.manual_seed(0)
    net = DTGNet(TinyStudent(), {name: t}, nn.ModuleDict({"torchvision:resnet18@w_pth":
                                                         UnitHead(6, 5)}), K=7)
    loss, diag = net(*_clips())
    assert f"weight/{name}" in diag and torch.isfinite(loss)
    with pytest.raises(ValueError, match="collide"):
        DTGNet(TinyStudent(), {"a.b": t, "a_b": t}, K=7)


def test_with_registry_tiny_student_teacher_and_default_heads():
    """Interface check against dtgkit.models (skipped while those modules are missing)."""
    students = pytest.importorskip("dtgkit.models.students")
    teachers_mod = pytest.importorskip("dtgkit.models.teachers")
    pytest.importorskip("dtgkit.models.heads")
    torch.manual_seed(0)
    teachers = {"t1": teachers_mod.create_teacher("tiny"),
                "t2": teachers_mod.create_teacher("tiny#seed=1#dim=8")}
    anchor, guidance = _clips()
    for name in list_methods():
        net = create_method(name, students.create_student("tiny"), teachers,
                            **({"K": 16} if name in ("dtg", "moco") else {}))
        net.train()
        loss, diag = net(anchor, guidance, video_ids=torch.arange(N), step=0)
        loss.backward()
        assert torch.isfinite(loss) and "loss" in diag, name
        assert all(p.requires_grad for p in net.trainable_parameters()), name


def test_anchor_feats_share_one_student_pass_for_supervised_eq3():
    from dtgkit.dtg.losses import joint_loss

    net = _dtg({"a": TinyTeacher(5, seed=1)})
    twin = _dtg({"a": TinyTeacher(5, seed=1)})
    twin.load_state_dict(net.state_dict())
    classifier = nn.Linear(6, 3)
    anchor, guidance = _clips()
    labels = torch.tensor([0, 1, 2, 0])
    feats = net.student(anchor)  # N x C, one pass for both losses
    l_ct, _ = net(None, guidance, anchor_feats=feats)
    torch.testing.assert_close(l_ct, twin(anchor, guidance)[0])
    loss = joint_loss(l_ct, F.cross_entropy(classifier(feats), labels))
    loss.backward()
    assert net.student.fc.weight.grad is not None and classifier.weight.grad is not None
    with pytest.raises(ValueError, match="has dim 4, the teacher has feat_dim 5"):
        net(anchor, guidance_feats={"a": torch.randn(N, 4)})
