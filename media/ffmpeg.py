"""ffprobe/ffmpeg wrappers: media info, ASR audio, playback proxies, posters and waveform peaks."""

from __future__ import annotations

import array
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_lib  # ffmpeg-python: builds the command lines

from .errors import CorruptMedia, ProcessingError, UnsupportedMedia
from .fileutil import atomic_output
from .isobmff import HEIF_BRANDS, check_iso_structure, file_brands

__all__ = [
    "ALLOWED_DEMUXERS",
    "FFMPEG",
    "FFPROBE",
    "probe",
    "make_asr_audio",
    "make_audio_proxy",
    "make_video_proxy",
    "make_poster",
    "silence_ranges",
    "waveform_peaks",
    "corrupt_reason",
]

#: Programs used; override with the LIUFANG_FFMPEG / LIUFANG_FFPROBE environment variables.
FFMPEG = os.environ.get("LIUFANG_FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("LIUFANG_FFPROBE", "ffprobe")

#: Demuxers (ffprobe ``format_name`` parts) of the accepted containers. Anything else —
#: notably ``hls``/``concat`` playlists that could make ffmpeg read other files — is refused.
ALLOWED_DEMUXERS = frozenset({
    "mov", "mp4", "m4a", "3gp", "3g2", "mj2",
    "matroska", "webm",
    "mp3", "aac", "wav", "flac", "ogg", "amr", "amrnb", "amrwb",
})

_WHITELIST = ",".join(sorted(ALLOWED_DEMUXERS))
PROBE_TIMEOUT = 60.0
_GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-loglevel", "error", "-y")
# ffmpeg reports these yet exits 0: the output would silently be cut short.
_FATAL_MARKERS = ("partial file",)
# Failures of the machine, not of the input file.
_ENVIRONMENT_MARKERS = ("No space left on device", "Permission denied", "Cannot allocate memory")


# -- running the tools -------------------------------------------------------------------
def _input_arg(path: str | os.PathLike[str]) -> str:
    """Absolute ``file:`` URL so names with ``:`` or a leading ``-`` are never misread."""
    return "file:" + str(Path(path).absolute())


def corrupt_reason(stderr: str) -> str:
    """Turn ffmpeg/ffprobe stderr into a short English reason for :class:`CorruptMedia`."""
    text = stderr or ""
    if "moov atom not found" in text:
        return "truncated MP4/MOV: moov atom not found"
    if "partial file" in text:
        return "truncated file: media data ends early (partial file)"
    if "EBML header parsing failed" in text:
        return "corrupt Matroska/WebM header"
    if "error reading header" in text or "Invalid data found when processing input" in text:
        return "invalid or truncated media data"
    if "End of file" in text:
        return "unexpected end of file"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1][:200] if lines else "ffmpeg could not decode the file")


def _not_whitelisted(stderr: str) -> UnsupportedMedia | None:
    """UnsupportedMedia naming the demuxer if ffmpeg refused one not on the whitelist."""
    match = re.search(r"\[(\w+) @ [^\]]*\] Format not on whitelist", stderr)
    if match is None:
        return None
    return UnsupportedMedia(
        f"不支持的媒体格式 / unsupported media container: {match.group(1)}",
        detail=_stderr_tail(stderr),
    )


def _stderr_tail(stderr: str, limit: int = 4000) -> str:
    return stderr[-limit:]


def _run(args: list[str], *, timeout: float, what: str) -> subprocess.CompletedProcess[bytes]:
    """Run a tool with a timeout; stdout/stderr captured. Raises ProcessingError on timeout."""
    try:
        return subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode("utf-8", "replace")
        raise ProcessingError(
            f"处理超时 / {what} timed out after {timeout:.0f} s", detail=_stderr_tail(err)
        ) from None
    except OSError as exc:
        raise ProcessingError(f"无法运行 / cannot run {args[0]}: {exc}") from exc


def _check_input_file(path: Path) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    if size == 0:
        raise CorruptMedia("empty file (0 bytes)")
    return size


# -- probe --------------------------------------------------------------------------------
def _to_float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _to_int(value: Any) -> int | None:
    number = _to_float(value)
    return int(number) if number is not None else None


def _rate(value: Any) -> float | None:
    try:
        frac = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(frac), 3) if frac > 0 else None


def _rotation_clockwise(stream: dict[str, Any]) -> int:
    """Degrees (0/90/180/270) the stored frames must be turned clockwise for display."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            ccw = _to_float(side["rotation"])  # display matrix: counter-clockwise angle
            if ccw is not None:
                return int(round(-ccw / 90.0)) * 90 % 360
    tag = _to_float((stream.get("tags") or {}).get("rotate"))  # older muxers: clockwise
    if tag is not None:
        return int(round(tag / 90.0)) * 90 % 360
    return 0


def _is_picture(stream: dict[str, Any]) -> bool:
    """Cover art (an attached picture) in an audio file is not a video stream."""
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def probe(
    path: str | os.PathLike[str],
    *,
    timeout: float = PROBE_TIMEOUT,
    any_format: bool = False,
) -> dict[str, Any]:
    """Describe a media file with ffprobe.

    Returns a JSON-able dict: ``format`` (ffprobe format_name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``),
    ``duration`` (s), ``size`` (bytes), ``bit_rate`` (bit/s), ``has_video``, ``has_audio``,
    ``video_codec``, ``width``/``height`` (as stored), ``display_width``/``display_height``
    (after rotation), ``fps``, ``rotation`` (clockwise degrees needed for display: a phone
    video shot in portrait typically says 90), ``audio_codec``, ``sample_rate``,
    ``channels``, ``tags`` (format tags such as creation_time / location). Values the file
    lacks are None. Raises CorruptMedia when ffprobe cannot read the file, UnsupportedMedia
    when its container is not one of :data:`ALLOWED_DEMUXERS` (ffprobe is told to refuse
    other demuxers, so a playlist posing as a video never makes it open other files);
    ``any_format=True`` lifts that restriction.
    """
    src = Path(path)
    _check_input_file(src)
    args = [
        FFPROBE, "-hide_banner", "-loglevel", "error",
        "-show_format", "-show_streams", "-of", "json",
        *(() if any_format else ("-format_whitelist", _WHITELIST)),
        _input_arg(src),
    ]
    result = _run(args, timeout=timeout, what="ffprobe")
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        raise _not_whitelisted(stderr) or CorruptMedia(
            corrupt_reason(stderr), detail=_stderr_tail(stderr)
        )
    try:
        data = json.loads(result.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError as exc:
        raise ProcessingError(f"ffprobe 输出无法解析 / unreadable ffprobe output: {exc}") from exc
    fmt = data.get("format") or {}
    streams: list[dict[str, Any]] = data.get("streams") or []
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not _is_picture(s)), None
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _to_float(fmt.get("duration"))
    if duration is None:
        durations = [_to_float(s.get("duration")) for s in (video, audio) if s]
        duration = max((d for d in durations if d is not None), default=None)
    info: dict[str, Any] = {
        "format": fmt.get("format_name"),
        "duration": duration,
        "size": _to_int(fmt.get("size")),
        "bit_rate": _to_int(fmt.get("bit_rate")),
        "has_video": video is not None,
        "has_audio": audio is not None,
        "video_codec": None,
        "width": None,
        "height": None,
        "display_width": None,
        "display_height": None,
        "fps": None,
        "pix_fmt": None,
        "rotation": 0,
        "audio_codec": None,
        "sample_rate": None,
        "channels": None,
        "tags": dict(fmt.get("tags") or {}),
    }
    if video is not None:
        width, height = _to_int(video.get("width")), _to_int(video.get("height"))
        rotation = _rotation_clockwise(video)
        swap = rotation in (90, 270)
        info.update(
            video_codec=video.get("codec_name"),
            width=width,
            height=height,
            display_width=height if swap else width,
            display_height=width if swap else height,
            fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
            rotation=rotation,
            pix_fmt=video.get("pix_fmt"),
        )
    if audio is not None:
        info.update(
            audio_codec=audio.get("codec_name"),
            sample_rate=_to_int(audio.get("sample_rate")),
            channels=_to_int(audio.get("channels")),
        )
    if info["bit_rate"] is None and info["size"] and duration:
        info["bit_rate"] = int(info["size"] * 8 / duration)
    return info


def _checked_probe(src: Path, *, need: str) -> dict[str, Any]:
    """Check ``src`` is complete, in an accepted container, with a ``need`` stream; probe it."""
    brands = file_brands(src) if src.stat().st_size else None
    if brands is not None and brands[0] not in HEIF_BRANDS:
        # ffmpeg happily converts the intact start of a cut MP4; refuse it instead.
        check_iso_structure(src)
    info = probe(src)
    demuxers = set(str(info.get("format") or "").split(","))
    if not demuxers & ALLOWED_DEMUXERS:
        raise UnsupportedMedia(
            f"不支持的媒体格式 / unsupported media container: {info.get('format')}"
        )
    if need == "audio" and not info["has_audio"]:
        raise UnsupportedMedia("文件中没有音轨 / the file has no audio stream")
    if need == "video" and not info["has_video"]:
        raise UnsupportedMedia("文件中没有视频画面 / the file has no video stream")
    return info


def _timeout_for(info: dict[str, Any], *, per_second: float, base: float) -> float:
    duration = info.get("duration") or 0.0
    return base + per_second * float(duration)


# -- derivatives ---------------------------------------------------------------------------
def _transcode(stream: Any, *, timeout: float, what: str) -> None:
    """Run an ffmpeg-python output node; CorruptMedia if ffmpeg fails or the input is cut."""
    args = [FFMPEG, *_GLOBAL_ARGS, *stream.get_args()]
    result = _run(args, timeout=timeout, what=what)
    stderr = result.stderr.decode("utf-8", "replace")
    _raise_for_failure(result.returncode, stderr, what)


def _raise_for_failure(returncode: int, stderr: str, what: str) -> None:
    """Map a failed (or silently cut) ffmpeg run to the right exception."""
    if returncode == 0 and not any(marker in stderr for marker in _FATAL_MARKERS):
        return
    if returncode != 0 and any(marker in stderr for marker in _ENVIRONMENT_MARKERS):
        raise ProcessingError(f"处理失败 / {what} failed: {corrupt_reason(stderr)}",
                              detail=_stderr_tail(stderr))
    raise _not_whitelisted(stderr) or CorruptMedia(
        corrupt_reason(stderr), detail=_stderr_tail(stderr)
    )


def _open_input(source: Path, **options: Any) -> Any:
    """ffmpeg-python input node restricted to the accepted demuxers."""
    return ffmpeg_lib.input(_input_arg(source), format_whitelist=_WHITELIST, **options)


def make_asr_audio(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, timeout: float | None = None
) -> dict[str, Any]:
    """Write ``dst``: the first audio stream as 16 kHz mono 16-bit FLAC (speech recognition input).

    Returns ``probe(dst)``. Raises CorruptMedia / UnsupportedMedia (no audio stream).
    """
    source = Path(src)
    info = _checked_probe(source, need="audio")
    with atomic_output(dst) as tmp:
        node = _open_input(source).audio.output(
            str(tmp), format="flac", acodec="flac", ac=1, ar=16000,
            sample_fmt="s16", map_metadata=-1,
        )
        _transcode(node, timeout=timeout or _timeout_for(info, per_second=0.5, base=60),
                   what="make_asr_audio")
    return probe(dst)


def make_audio_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    bitrate: str = "96k",
    timeout: float | None = None,
) -> dict[str, Any]:
    """Write ``dst``: the first audio stream as AAC in an .m4a (moov first: "faststart").

    At most two channels are kept. Returns ``probe(dst)``.
    """
    source = Path(src)
    info = _checked_probe(source, need="audio")
    channels = min(int(info.get("channels") or 2), 2)
    with atomic_output(dst) as tmp:
        node = _open_input(source).audio.output(
            str(tmp), format="ipod", acodec="aac", audio_bitrate=bitrate, ac=channels,
            movflags="+faststart", map_metadata=-1,
        )
        _transcode(node, timeout=timeout or _timeout_for(info, per_second=0.5, base=60),
                   what="make_audio_proxy")
    return probe(dst)


def _scaled_size(info: dict[str, Any], max_height: int) -> tuple[int, int]:
    """Display size shrunk so its short side is at most ``max_height`` (even numbers)."""
    width = int(info.get("display_width") or 0)
    height = int(info.get("display_height") or 0)
    if width <= 0 or height <= 0:
        raise CorruptMedia("video stream has no frame size")
    factor = min(1.0, max_height / min(width, height))
    return max(2, int(round(width * factor / 2)) * 2), max(2, int(round(height * factor / 2)) * 2)


def make_video_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    max_height: int = 720,
    *,
    max_fps: int = 30,
    crf: int = 23,
    preset: str = "veryfast",
    timeout: float | None = None,
) -> dict[str, Any]:
    """Write ``dst``: an H.264 (yuv420p) + AAC MP4 for playback in any browser.

    The rotation stored by the phone is applied to the pixels (the proxy has rotation 0),
    the picture is shrunk so that its short side is at most ``max_height`` ("720p", also
    for portrait videos: 1080×1920 becomes 720×1280), frame rates above ``max_fps`` are
    reduced to it, moov is written first (faststart), and metadata such as the GPS
    location is dropped. Returns ``probe(dst)``.
    """
    source = Path(src)
    info = _checked_probe(source, need="video")
    width, height = _scaled_size(info, max_height)
    inp = _open_input(source)  # ffmpeg auto-rotates before the filters
    video = inp.video.filter("scale", width, height).filter("setsar", 1)
    if (info.get("fps") or 0) > max_fps + 0.5:
        video = video.filter("fps", max_fps)
    streams = [video, inp.audio] if info["has_audio"] else [video]
    audio_opts: dict[str, Any] = (
        {"acodec": "aac", "audio_bitrate": "128k", "ac": min(int(info.get("channels") or 2), 2)}
        if info["has_audio"] else {}
    )
    with atomic_output(dst) as tmp:
        node = ffmpeg_lib.output(
            *streams, str(tmp), format="mp4", vcodec="libx264", pix_fmt="yuv420p",
            preset=preset, crf=crf, movflags="+faststart", map_metadata=-1,
            **{"metadata:s:v:0": "rotate=0"}, **audio_opts,
        )
        _transcode(node, timeout=timeout or _timeout_for(info, per_second=6.0, base=120),
                   what="make_video_proxy")
    return probe(dst)


def make_poster(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    at_fraction: float = 0.1,
    max_height: int = 720,
    timeout: float | None = None,
) -> dict[str, int]:
    """Write ``dst``: one JPEG frame from ``at_fraction`` of the duration, rotation applied,
    short side at most ``max_height``. Returns ``{"width": w, "height": h}``."""
    source = Path(src)
    info = _checked_probe(source, need="video")
    width, height = _scaled_size(info, max_height)
    duration = float(info.get("duration") or 0.0)
    offsets = [max(0.0, duration * at_fraction)] if duration > 0 else []
    offsets.append(0.0)  # fallback when seeking past the last decodable frame
    last_error: CorruptMedia | None = None
    for offset in offsets:
        try:
            with atomic_output(dst) as tmp:
                node = (
                    _open_input(source, ss=f"{offset:.3f}")
                    .video.filter("scale", width, height)
                    .output(str(tmp), format="image2", vcodec="mjpeg", vframes=1,
                            **{"q:v": 3}, map_metadata=-1)
                )
                _transcode(node, timeout=timeout or 120.0, what="make_poster")
            return {"width": width, "height": height}
        except CorruptMedia as exc:
            last_error = exc
    assert last_error is not None
    raise last_error


def silence_ranges(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    ranges: list[tuple[float, float]],
    *,
    frame_samples: int = 256,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Write ``dst``: the proxy ``src`` with its audio silenced over ``ranges`` ([(start, end), ...] in
    seconds); a video stream is copied as it is, the audio re-encoded as AAC, moov first, metadata dropped.

    ffmpeg switches the silence on per audio frame (judged by the frame's start time), so the audio is cut
    into frames of ``frame_samples`` samples and every frame that touches a range is silenced: the silence
    may begin up to one such frame (about 5 ms) early, never late. Returns ``probe(dst)``.
    """
    spans = sorted((float(start), float(end)) for start, end in ranges)
    if not spans or any(not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e <= s for s, e in spans):
        raise ValueError(f"ranges must be non-empty (start, end) pairs with 0 <= start < end: {ranges!r}")
    source = Path(src)
    info = _checked_probe(source, need="audio")
    lead = frame_samples / float(info.get("sample_rate") or 8000)
    enable = "+".join(f"between(t,{max(0.0, start - lead):.6f},{end:.6f})" for start, end in spans)
    inp = _open_input(source)
    audio = (inp.audio.filter("asetnsamples", n=frame_samples, p=0)
             .filter("volume", volume=0, enable=enable))
    channels = min(int(info.get("channels") or 2), 2)
    audio_opts: dict[str, Any] = {"acodec": "aac", "audio_bitrate": "128k" if info["has_video"] else "96k",
                                  "ac": channels}
    with atomic_output(dst) as tmp:
        if info["has_video"]:
            node = ffmpeg_lib.output(inp.video, audio, str(tmp), format="mp4", vcodec="copy",
                                     movflags="+faststart", map_metadata=-1, **audio_opts)
        else:
            node = audio.output(str(tmp), format="ipod", movflags="+faststart", map_metadata=-1, **audio_opts)
        _transcode(node, timeout=timeout or _timeout_for(info, per_second=0.5, base=60),
                   what="silence_ranges")
    return probe(dst)


# -- waveform ------------------------------------------------------------------------------
def waveform_peaks(
    src: str | os.PathLike[str],
    peaks_per_second: int = 10,
    *,
    sample_rate: int = 8000,
    timeout: float | None = None,
    chunk_bytes: int = 64 * 1024,
) -> dict[str, Any]:
    """Compute min/max peaks of the (mono-mixed) audio for drawing a waveform.

    ffmpeg decodes to 16-bit PCM at ``sample_rate`` and streams it through a pipe; the
    samples are consumed ``chunk_bytes`` at a time, so memory does not grow with the
    duration (only the peaks list does: 2 floats per peak). Returns a JSON-able dict::

        {"version": 1, "sample_rate": 8000, "samples_per_peak": 800,
         "peaks_per_second": 10.0, "duration": 4.2, "length": 42,
         "peaks": [[min, max], ...]}   # floats in [-1, 1], full scale = 1

    The last peak may cover a shorter window.
    """
    if peaks_per_second <= 0 or sample_rate <= 0:
        raise ValueError("peaks_per_second and sample_rate must be positive")
    source = Path(src)
    info = _checked_probe(source, need="audio")
    window = max(1, round(sample_rate / peaks_per_second))
    limit = timeout or _timeout_for(info, per_second=0.5, base=60)
    node = _open_input(source).audio.output(
        "pipe:1", format="s16le", acodec="pcm_s16le", ac=1, ar=sample_rate
    )
    args = [FFMPEG, *_GLOBAL_ARGS, *node.get_args()]
    peaks: list[list[float]] = []
    total = 0
    with tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file
            )
        except OSError as exc:
            raise ProcessingError(f"无法运行 / cannot run {FFMPEG}: {exc}") from exc
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(limit, _kill)
        timer.start()
        try:
            assert proc.stdout is not None
            pending = array.array("h")
            carry = b""
            while True:
                data = proc.stdout.read(chunk_bytes)
                if not data:
                    break
                data = carry + data
                usable = len(data) - (len(data) % 2)
                carry = data[usable:]
                samples = array.array("h")
                samples.frombytes(data[:usable])
                if sys.byteorder == "big":
                    samples.byteswap()
                total += len(samples)
                pending.extend(samples)
                full = len(pending) - len(pending) % window
                for start in range(0, full, window):
                    part = pending[start:start + window]
                    peaks.append([round(min(part) / 32768, 4), round(max(part) / 32768, 4)])
                del pending[:full]
            if pending:
                peaks.append([round(min(pending) / 32768, 4), round(max(pending) / 32768, 4)])
            returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        err_file.seek(0)
        stderr = err_file.read(256 * 1024).decode("utf-8", "replace")
    if timed_out.is_set():
        raise ProcessingError(f"处理超时 / waveform_peaks timed out after {limit:.0f} s",
                              detail=_stderr_tail(stderr))
    _raise_for_failure(returncode, stderr, "waveform_peaks")
    return {
        "version": 1,
        "sample_rate": sample_rate,
        "samples_per_peak": window,
        "peaks_per_second": round(sample_rate / window, 6),
        "duration": round(total / sample_rate, 3),
        "length": len(peaks),
        "peaks": peaks,
    }
