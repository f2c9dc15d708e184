"""Media pipeline benchmark: derivative speeds (× real time), storage throughput and peak memory.

Usage:  .venv/bin/python bench/media_bench.py [--minutes 2] [--video-seconds 20] [--storage-mb 200] [--no-s3]

Builds its inputs under bench/out/media/ with ffmpeg: ~N minutes of real Mandarin speech (the
shared AISHELL clip joined with silence) as a phone-like AAC .m4a, and a portrait 1920×1080
phone video (H.264, rotation tag 90, 30 fps, with audio). Each step runs in its own subprocess
so its ru_maxrss is that step's peak (peak_rss_mb: Python; ffmpeg_rss_mb: the largest ffmpeg or
ffprobe child). Storage steps stream a generated file of --storage-mb
through LocalStorage and S3Storage (weed mini on 127.0.0.1, started by tests/support/s3server)
and read it back. Results are printed as a table and written to bench/out/media_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_AUDIO = Path(os.environ.get("LIUFANG_SHARED_DIR", ROOT.parent / "shared")) / "audio"
OUT = ROOT / "bench" / "out"
WORK = OUT / "media"
MIB = 1024 * 1024


def run_ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def build_inputs(minutes: float, video_seconds: float) -> dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    clip = SHARED_AUDIO / "BAC009S0764W0121.wav"
    speech = WORK / f"speech_{minutes:g}min.m4a"
    if not speech.exists():
        # clip + 1 s of silence, looped to the wanted length, encoded like a phone recorder.
        run_ffmpeg("-i", str(clip), "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-filter_complex",
                   "[1]atrim=duration=1[s];[0][s]concat=n=2:v=0:a=1,aloop=loop=-1:size=2e9[a]",
                   "-map", "[a]", "-t", str(minutes * 60), "-ar", "44100", "-ac", "1",
                   "-c:a", "aac", "-b:a", "64k", str(speech))
    video = WORK / f"portrait_{video_seconds:g}s.mp4"
    if not video.exists():
        plain = WORK / "portrait_plain.mp4"
        run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-f", "lavfi",
                   "-i", "sine=frequency=300:sample_rate=48000", "-t", str(video_seconds),
                   "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-ac", "2", str(plain))
        run_ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(video))
        plain.unlink()
    return {"speech": speech, "video": video}


# -- steps, each run in a child process -----------------------------------------------------
def step(name: str, args: dict[str, Any]) -> dict[str, Any]:
    from media import ffmpeg as ff
    from media.sniff import sniff

    src = Path(args["src"])
    out = Path(args["out"])
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if name == "sniff":
        result["type"] = sniff(src).mime
    elif name == "asr_audio":
        ff.make_asr_audio(src, out / "asr.flac")
    elif name == "audio_proxy":
        ff.make_audio_proxy(src, out / "proxy.m4a")
    elif name == "waveform":
        result["peaks"] = ff.waveform_peaks(src)["length"]
    elif name == "video_proxy":
        info = ff.make_video_proxy(src, out / "proxy.mp4")
        result["proxy"] = f"{info['width']}x{info['height']}"
    elif name == "poster":
        ff.make_poster(src, out / "poster.jpg")
    elif name.startswith("storage_"):
        result.update(storage_step(name.removeprefix("storage_"), args))
    else:
        raise ValueError(name)
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["ffmpeg_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


def storage_step(backend: str, args: dict[str, Any]) -> dict[str, Any]:
    import hashlib

    from media.storage import LocalStorage, S3Storage

    size = int(args["storage_mb"]) * MIB
    if backend == "local":
        storage: Any = LocalStorage(Path(args["out"]) / "storage")
    else:
        storage = S3Storage(args["endpoint"], args["access_key"], args["secret_key"], "bench")

    class Generated:
        def __init__(self) -> None:
            self.left = size
            self.block = os.urandom(MIB)

        def read(self, n: int = -1) -> bytes:
            n = min(MIB - 1 if n < 0 else n, MIB - 1, self.left)
            self.left -= n
            return self.block[:n]

    t0 = time.perf_counter()
    stored = storage.put_stream("bench/object", Generated())
    put_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    digest = hashlib.sha256()
    with storage.open_range("bench/object") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    get_s = time.perf_counter() - t0
    assert digest.hexdigest() == stored.sha256
    storage.delete("bench/object")
    return {"put_MBps": size / MIB / put_s, "get_MBps": size / MIB / get_s}


def run_step(name: str, args: dict[str, Any]) -> dict[str, Any]:
    code = ("import json,sys; sys.path.insert(0, sys.argv[1]); from bench.media_bench import step; "
            "print(json.dumps(step(sys.argv[2], json.loads(sys.argv[3]))))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), name, json.dumps(args)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the speech input")
    parser.add_argument("--video-seconds", type=float, default=20.0)
    parser.add_argument("--storage-mb", type=int, default=200)
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (weed mini) storage steps")
    options = parser.parse_args()

    inputs = build_inputs(options.minutes, options.video_seconds)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="liufang-media-bench-") as tmp:
        audio_seconds = options.minutes * 60
        for name, src, media_seconds in [
            ("sniff", inputs["speech"], None),
            ("asr_audio", inputs["speech"], audio_seconds),
            ("audio_proxy", inputs["speech"], audio_seconds),
            ("waveform", inputs["speech"], audio_seconds),
            ("sniff", inputs["video"], None),
            ("video_proxy", inputs["video"], options.video_seconds),
            ("poster", inputs["video"], None),
        ]:
            result = run_step(name, {"src": str(src), "out": tmp})
            if media_seconds and "seconds" in result:
                result["x_realtime"] = media_seconds / result["seconds"]
            rows.append({"step": name, "input": src.name, **result})
        storage_args: dict[str, Any] = {"src": "", "out": tmp, "storage_mb": options.storage_mb}
        rows.append({"step": "storage_local", "input": f"{options.storage_mb} MiB",
                     **run_step("storage_local", storage_args)})
        if not options.no_s3:
            from tests.support.s3server import run_s3_server

            with run_s3_server() as server:
                storage_args.update(endpoint=server.endpoint, access_key=server.access_key,
                                    secret_key=server.secret_key)
                rows.append({"step": "storage_s3", "input": f"{options.storage_mb} MiB",
                             **run_step("storage_s3", storage_args)})

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "media_bench.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    columns = ["step", "input", "seconds", "x_realtime", "put_MBps", "get_MBps", "peak_rss_mb",
               "ffmpeg_rss_mb", "proxy", "error"]
    print(" | ".join(columns))
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            cells.append(f"{value:.2f}" if isinstance(value, float) else str(value))
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
