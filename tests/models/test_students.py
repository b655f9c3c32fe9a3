from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from dtgkit.models.inflate import add_stem_maxpool, inflate_2d_to_3d, use_replicate_time_padding
from dtgkit.models.students import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    StudentClassifier,
    TSNStudent,
    Video3DStudent,
    accepts_2d_init,
    create_student,
    list_students,
    register_student,
)

PAPER_STUDENTS = {"tsn_r18", "tsn_r50", "r3d_18", "r2plus1d_18", "tiny", "tiny3d"}
FEAT_DIMS = {"tsn_r18": 512, "tsn_r50": 2048, "tsn_r101": 2048, "r3d_18": 512,
             "r2plus1d_18": 512, "tiny": 32, "tiny3d": 32, "tsn_r18_w16": 128}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomize_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so the inflation test checks them too."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


def _resnet18_2d(dtype=torch.float32) -> nn.Module:
    r2 = _randomize_bn(torchvision.models.resnet18())
    r2.fc = nn.Identity()
    return r2.to(dtype).eval()


# ------------------------------------------------------------------ registry and shapes
def test_registry_lists_the_paper_students():
    assert PAPER_STUDENTS <= set(list_students())
    assert list_students() == sorted(list_students())


@pytest.mark.parametrize("name", sorted(FEAT_DIMS))
def test_every_student_gives_n_by_feat_dim_at_64px(name):
    student = create_student(name)
    assert student.feat_dim == FEAT_DIMS[name]
    for n, t in ((2, 2), (1, 3), (1, 4)):
        clip = torch.rand(n, t, 3, 64, 64)  # N x T x 3 x H x W
        with torch.no_grad():
            feats = student.eval()(clip)
        assert feats.shape == (n, FEAT_DIMS[name])
        assert torch.isfinite(feats).all()


@pytest.mark.parametrize("name", ["tsn_r18", "r3d_18", "tiny", "tiny3d"])
def test_small_inputs_documented_minimum(name):
    student = create_student(name)
    # train mode: 32 px, N = T = 2 is enough for BatchNorm's batch statistics
    assert student.train()(torch.rand(2, 2, 3, 32, 32)).shape == (2, student.feat_dim)
    # eval mode: one 16 px frame runs
    with torch.no_grad():
        assert student.eval()(torch.rand(1, 1, 3, 16, 16)).shape == (1, student.feat_dim)


def test_slim_tsn_r18_is_resnet18_at_a_quarter_width():
    """tsn_r18_w16: ResNet-18's blocks and strides at 16-32-64-128 channels (0.7M parameters);
    at width 64 the very shape of torchvision's ResNet-18, so its weights load."""
    slim = create_student("tsn_r18_w16")
    assert 0.65e6 < sum(p.numel() for p in slim.parameters()) < 0.72e6
    assert [slim.backbone.layer4[1].conv2.out_channels, slim.backbone.conv1.out_channels] == [128, 16]
    r18 = _resnet18_2d()
    wide = create_student("tsn_r18_w16", width=64, pretrained=r18.state_dict()).eval()
    clip = torch.rand(2, 3, 3, 64, 64)  # N x T x 3 x H x W
    with torch.no_grad():
        torch.testing.assert_close(wide(clip), create_student("tsn_r18", pretrained=r18).eval()(clip))
    with pytest.raises(ValueError, match="do not fit"):
        create_student("tsn_r18_w16", pretrained=r18.state_dict())


def test_accepts_2d_init_follows_the_factories():
    assert accepts_2d_init("tsn_r18") and accepts_2d_init("r3d_18")
    assert not accepts_2d_init("tiny") and not accepts_2d_init("no-such-student")


def test_unknown_student_names_the_key_and_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        create_student("tsn_r19")
    msg = str(err.value)
    assert "'tsn_r19'" in msg
    for name in list_students():
        assert name in msg


def test_unknown_option_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="inflate_from"):
        create_student("r2plus1d_18", inflate_from={})
    with pytest.raises(ValueError, match="'depth'"):
        create_student("tiny", depth=3)
    with pytest.raises(ValueError, match="num_classes"):
        create_student("tiny", dropout=0.3)


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="tiny"):
        register_student("tiny")(lambda: None)


def test_unknown_torchvision_weights_name_lists_known_without_downloading():
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        create_student("tsn_r18", weights="IMAGENET1K_V9")
    with pytest.raises(ValueError, match="KINETICS400_V1"):
        create_student("r3d_18", weights="IMAGENET1K_V1")


def test_bad_clip_layout_and_dtype_are_refused():
    student = create_student("tiny")
    with pytest.raises(ValueError, match="N x T x 3 x H x W"):
        student(torch.rand(2, 3, 4, 32, 32))  # N x 3 x T x H x W: the 3D-net layout
    with pytest.raises(ValueError, match="float"):
        student(torch.randint(0, 255, (1, 2, 3, 32, 32), dtype=torch.uint8))


# ------------------------------------------------------------------ TSN specifics
@pytest.mark.parametrize("name", ["tiny", "tsn_r18"])
def test_tsn_consensus_is_the_mean_of_per_frame_features(name):
    student = create_student(name).eval()
    clip = torch.rand(2, 3, 3, 64, 64)
    with torch.no_grad():
        feats = student(clip)  # N x D
        per_frame = torch.stack([student(clip[:, t:t + 1]) for t in range(3)], 1)  # N x T x D
        segment = student.segment_features(clip)  # N x T x D
    torch.testing.assert_close(segment, per_frame, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(feats, per_frame.mean(1), rtol=1e-5, atol=1e-5)


def test_normalisation_buffer_is_used_and_saved():
    student = create_student("tiny").eval()
    assert "mean" in student.state_dict() and "std" in student.state_dict()
    torch.testing.assert_close(student.mean.flatten(), torch.tensor(IMAGENET_MEAN))
    torch.testing.assert_close(student.std.flatten(), torch.tensor(IMAGENET_STD))
    clip = torch.rand(2, 2, 3, 32, 32)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    with torch.no_grad():
        manual = student.backbone(((clip - mean) / std).flatten(0, 1)).reshape(2, 2, -1).mean(1)
        torch.testing.assert_close(student(clip), manual)
        before = student(clip)
        student.mean.fill_(0.0)
        student.std.fill_(1.0)
        assert not torch.allclose(student(clip), before)


def test_channels_last_gives_the_same_features():
    student = create_student("tsn_r18").eval()
    clip = torch.rand(2, 2, 3, 64, 64)
    with torch.no_grad():
        ref = student(clip)
        student = student.to(memory_format=torch.channels_last)
        got = student(clip.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_pretrained_file_loads_torchvision_format(tmp_path):
    r2 = _resnet18_2d()
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict() | r2.state_dict(), path)  # with fc.*
    student = create_student("tsn_r18", pretrained=str(path)).eval()
    frames = torch.rand(2, 1, 3, 64, 64)
    mean, std = student.mean, student.std
    with torch.no_grad():
        torch.testing.assert_close(student(frames), r2((frames[:, 0] - mean) / std))
    # DDP prefixes and {"state_dict": ...} wrappers are unwrapped
    ddp = tmp_path / "ddp.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in r2.state_dict().items()}}, ddp)
    torch.testing.assert_close(create_student("tsn_r18", pretrained=ddp).backbone.conv1.weight,
                               r2.conv1.weight)
    # a fine-tuning start from a (DTG-pre-trained) classifier's state dict: the backbone part
    clf = create_student("tsn_r18", num_classes=4)
    torch.testing.assert_close(
        create_student("tsn_r18", pretrained=clf.state_dict()).backbone.layer4[1].conv2.weight,
        clf.student.backbone.layer4[1].conv2.weight)


def test_pretrained_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        create_student("tsn_r18", pretrained=tmp_path / "nope.pth")
    r34 = tmp_path / "r34.pth"
    torch.save(torchvision.models.resnet34().state_dict(), r34)
    with pytest.raises(ValueError, match="r34.pth"):
        create_student("tsn_r18", pretrained=r34)
    with pytest.raises(ValueError, match="size mismatch"):
        create_student("tsn_r18", pretrained=torchvision.models.resnet50().state_dict())
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        create_student("tsn_r18", pretrained=junk)


# ------------------------------------------------------------------ I3D-style inflation
def test_inflated_r3d18_reproduces_2d_features_exactly_in_float64():
    """Repeated-frame clip through the inflated net == the 2D net on that frame.

    Mathematically exact: sum over t of (w / t) * x = w * x for a constant-in-time input, BN is
    copied, the stem max-pool gives the 2D geometry, and replicate temporal padding keeps the
    border frames constant too (also through the temporal strides 2 of layers 2-4). In float64
    only rounding remains: relative error ~1e-15 per op, so 1e-9 is a wide margin.
    """
    r2 = _resnet18_2d(torch.float64)
    r3d = torchvision.models.video.r3d_18()
    r3d.fc = nn.Identity()
    student = Video3DStudent(add_stem_maxpool(use_replicate_time_padding(r3d)), 512).double()
    inflate_2d_to_3d(r2, student)
    frames = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    x2d = (frames - student.mean) / student.std  # N x 3 x H x W
    # eval (running statistics) for every T first: train-mode calls update running_var with
    # an unbiased correction that depends on the number of values (N*H*W vs N*T*H*W).
    for train in (False, True):
        student.train(train)
        r2.train(train)
        with torch.no_grad():
            ref = r2(x2d)  # N x 512
            for t in ((1, 4) if not train else (3,)):
                clip = frames[:, None].expand(-1, t, -1, -1, -1)  # N x T x 3 x H x W
                torch.testing.assert_close(student(clip), ref, rtol=1e-9, atol=1e-9)


def test_create_student_inflate_from_reproduces_2d_features_in_float32(tmp_path):
    """The public path: create_student("r3d_18", inflate_from=file) in float32.

    Tolerance: measured max error is ~3e-6 of the feature scale (float32 rounding of w / 3 and a
    different summation order over ~27 x C terms in 17 convs); 1e-4 relative leaves 30x margin
    while the zero-padding mismatch (next test) is of the order of the features themselves.
    """
    r2 = _resnet18_2d()
    path = tmp_path / "r18.pth"
    torch.save(r2.state_dict(), path)
    student = create_student("r3d_18", inflate_from=path).eval()
    assert student.stem_pool and student.temporal_padding == "replicate"
    frames = torch.rand(2, 3, 32, 32)
    clip = frames[:, None].expand(-1, 4, -1, -1, -1)
    with torch.no_grad():
        ref = r2((frames - student.mean) / student.std)
        got = student(clip)
    scale = ref.abs().max().item()
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4 * scale)
    # a TSN student is a valid 2D source as well (2D DTG pre-training -> 3D fine-tuning)
    tsn = create_student("tsn_r18", pretrained=path)
    from_tsn = create_student("r3d_18", inflate_from=tsn).eval()
    with torch.no_grad():
        torch.testing.assert_close(from_tsn(clip), got)


def test_zero_temporal_padding_only_breaks_the_border_frames():
    """Why replicate padding: with zeros the first/last frames lose 1/3 of the stem kernel."""
    r2 = _resnet18_2d()
    student = create_student("r3d_18", inflate_from=r2, temporal_padding="zeros").eval()
    frames = torch.rand(1, 3, 64, 64)
    clip = frames[:, None].expand(-1, 5, -1, -1, -1)  # N x T x 3 x H x W
    with torch.no_grad():
        x = ((clip - student.mean) / student.std).permute(0, 2, 1, 3, 4)  # N x 3 x T x H x W
        stem3d = student.backbone.stem(x)  # N x 64 x T x h x w
        stem2d = r2.maxpool(r2.relu(r2.bn1(r2.conv1((frames - student.mean) / student.std))))
        interior = stem3d[:, :, 1:-1]
        torch.testing.assert_close(interior, stem2d[:, :, None].expand_as(interior),
                                   rtol=1e-5, atol=1e-5)
        assert not torch.allclose(stem3d[:, :, 0], stem2d, atol=1e-2)
        assert not torch.allclose(stem3d[:, :, -1], stem2d, atol=1e-2)
        # ... and the pooled features of a short clip are far off
        err = (student(clip) - r2((frames - student.mean) / student.std)).abs().max()
    assert err > 0.1


def test_inflation_refuses_mismatched_weights():
    with pytest.raises(ValueError, match="layer1.2"):  # ResNet34 has 3 blocks in layer1
        create_student("r3d_18", inflate_from=torchvision.models.resnet34())
    with pytest.raises(ValueError, match="not both|cannot be combined"):
        create_student("r3d_18", inflate_from={}, pretrained={})


# ------------------------------------------------------------------ classifier and gradients
def test_classifier_features_and_logits():
    model = create_student("tiny", num_classes=5, dropout=0.5)
    assert isinstance(model, StudentClassifier) and model.feat_dim == 32
    assert isinstance(model.student, TSNStudent)
    assert isinstance(create_student("tiny3d"), Video3DStudent)
    clip = torch.rand(3, 2, 3, 32, 32)
    feats = model.features(clip)
    assert feats.shape == (3, 32)
    assert model(clip).shape == model.classify(feats).shape == (3, 5)
    model.eval()
    with torch.no_grad():  # eval: no dropout, logits = fc(feats)
        torch.testing.assert_close(model(clip), model.fc(model.features(clip)))
    assert isinstance(create_student("tiny", num_classes=2).dropout, nn.Dropout)
    with pytest.raises(ValueError, match="dropout"):
        create_student("tiny", num_classes=5, dropout=1.0)


R3D_LIGHT = {"stem_pool": True, "temporal_padding": "replicate"}  # 4x fewer FLOPs, replicate pad


@pytest.mark.parametrize("name, kw", [("tiny", {}), ("tiny3d", {}), ("tsn_r18", {}),
                                      ("r3d_18", R3D_LIGHT)])
def test_gradients_reach_every_parameter(name, kw):
    model = create_student(name, num_classes=3, dropout=0.0, **kw).train()
    clip = torch.rand(2, 2, 3, 32, 32, requires_grad=True)
    loss = nn.functional.cross_entropy(model(clip), torch.tensor([0, 2]))
    loss.backward()
    assert clip.grad is not None and torch.isfinite(clip.grad).all()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname


def test_3d_checkpoint_round_trip_keeps_its_architecture(tmp_path):
    """A pre-trained r3d_18 student file (as the engine saves it) given back as pretrained=."""
    inflated = create_student("r3d_18", inflate_from=torchvision.models.resnet18()).eval()
    path = tmp_path / "student.pt"
    torch.save(inflated.state_dict(), path)
    for source in (path, {"model": {f"student.{k}": v for k, v in inflated.state_dict().items()}}):
        again = create_student("r3d_18", pretrained=source).eval()
        assert again.stem_pool and again.temporal_padding == "replicate"  # from the flags
        clip = torch.rand(1, 2, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(again(clip), inflated(clip))
    with pytest.raises(ValueError, match="stem_pool"):
        create_student("r3d_18", pretrained=path, stem_pool=False)
    with pytest.raises(RuntimeError, match="stem_pool"):  # plain load_state_dict checks too
        create_student("r3d_18").load_state_dict(inflated.state_dict())
    with pytest.raises(ValueError, match="pretrained="):  # 3D weights are not inflatable
        create_student("r3d_18", inflate_from=path)
    # 2D weights given as pretrained= are inflated (one key for "init weights" in configs)
    r2 = _resnet18_2d()
    via_pretrained = create_student("r3d_18", pretrained=r2.state_dict())
    assert via_pretrained.stem_pool and via_pretrained.temporal_padding == "replicate"
    torch.testing.assert_close(via_pretrained.backbone.layer2[0].downsample[0].weight[:, :, 0],
                               r2.layer2[0].downsample[0].weight)
    with pytest.raises(ValueError, match="r3d_18"):
        create_student("r2plus1d_18", pretrained=r2.state_dict())
