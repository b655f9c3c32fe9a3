from __future__ import annotations

import pytest
import torch
from torch import nn

from dtgkit.models.heads import ProjectionHead, ProjectionHeads, make_heads


@pytest.mark.parametrize("hidden, bn", [(None, False), (64, False), (64, True)])
def test_projection_head_outputs_unit_rows(hidden, bn):
    torch.manual_seed(0)
    head = ProjectionHead(32, 1280, hidden=hidden, bn=bn)
    out = head(torch.randn(5, 32) * 10)  # N x in_dim
    assert out.shape == (5, 1280)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5))


def test_linear_head_is_normalised_linear_map():
    head = ProjectionHead(8, 4)
    feats = torch.randn(3, 8)
    torch.testing.assert_close(head(feats), nn.functional.normalize(head.net(feats), dim=1))
    raw = ProjectionHead(8, 4, normalize=False)
    torch.testing.assert_close(raw(feats), raw.net(feats))
    mlp = ProjectionHead(8, 4, hidden=16)
    assert [type(m) for m in mlp.net] == [nn.Linear, nn.ReLU, nn.Linear]  # MoCo v2 MLP


def test_head_errors():
    with pytest.raises(ValueError, match="hidden"):
        ProjectionHead(8, 4, bn=True)
    with pytest.raises(ValueError, match="N x 8"):
        ProjectionHead(8, 4)(torch.randn(3, 9))


def test_make_heads_projects_into_each_teacher_space():
    dims = {"imagenet-efficientnet-lite0": 1280, "torchvision:resnet18@w.pth": 512}
    heads = make_heads(32, dims, hidden=64)
    assert isinstance(heads, nn.ModuleDict) and isinstance(heads, ProjectionHeads)
    assert heads.teacher_names == list(dims)
    assert "torchvision:resnet18@w.pth" in heads and "other" not in heads
    assert heads["torchvision:resnet18@w.pth"].out_dim == 512
    feats = torch.randn(4, 32, requires_grad=True)
    out = heads(feats)
    assert list(out) == list(dims)
    for name, dim in dims.items():
        assert out[name].shape == (4, dim)
        torch.testing.assert_close(out[name].norm(dim=1), torch.ones(4))
    sum(o.sum() for o in out.values()).backward()
    assert feats.grad is not None
    assert all(p.grad is not None for p in heads.parameters())
    assert len(heads.state_dict()) == 8  # 2 heads x 2 linears x (weight, bias)


def test_make_heads_errors():
    with pytest.raises(ValueError, match="at least one"):
        make_heads(32, {})
    with pytest.raises(ValueError, match="collide"):
        make_heads(32, {"a.b": 4, "a_b": 4})
