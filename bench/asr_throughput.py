"""Transcription throughput on long real speech: Liufang's engine (sequential and batched) against openai-whisper,
the web pipeline's overhead, and long interviews (time, peak RSS and progress by length).

Usage:  .venv/bin/python bench/asr_throughput.py [--minutes 20] [--batch-size 4] [--long 10 30 120]
        [--configs sequential batched openai] [--skip-openai] [--skip-pipeline] [--skip-throughput] [--skip-dev]

Inputs are built by bench/joined_speech.py: every shared Mandarin clip once per round, rounds in shuffled orders
(fixed seed), pauses of 0.3–1.5 s between clips. Every measurement runs in a subprocess of its own (peak RSS is
that process's ru_maxrss, model included) and loads the model before the clock starts.

1. Throughput on the ≥ 20 min input, default options (TranscribeOptions.for_language("zh"), what a transcription
   job uses with the default configuration): faster-whisper int8 sequential (the default), faster-whisper int8
   batched (--batch-size), openai-whisper float32 on the same weights (converted from the CTranslate2 model).
   × real time = audio seconds / wall seconds; CPU seconds (user + sys) are printed too, as the machine is shared.
   CER (after t2s, punctuation removal) on the whole input, and on the dev set (the 13 clips one by one).
2. Pipeline overhead: the final tus PATCH (its last byte) until the transcript is stored — ingest, processing
   (probe, 16 kHz FLAC, proxy, waveform), the transcription job and clean-up, queue inline, in process — against
   the engine alone on the same 16 kHz FLAC with the same options (the job's own _options()).
3. Long interviews (--long minutes ...): default options; × real time, peak RSS, progress reports (the largest gap
   between two reports, in % of the duration, as the job records them).
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

from bench.joined_speech import SHARED_AUDIO, build_joined_speech, mandarin_clips  # noqa: E402
from transcription.cer import cer  # noqa: E402
from transcription.models import DEFAULT_MODEL_SOURCE  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"
#: Above this many reference characters the pure-Python Levenshtein takes minutes: CER is left out.
CER_MAX_CHARS = 8000
PUNCTUATION = set("，。、？！：；“”‘’（）《》…—,.?!:;")


def _cpu_s() -> float:
    self_, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_.ru_utime + self_.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _options(config: str, batch_size: int):
    from transcription.base import TranscribeOptions

    options = TranscribeOptions.for_language("zh")
    if config == "batched":
        options.batch_size = batch_size
    return options


def engine_worker(config: str, audio: str, model: str, cache_dir: str | None, batch_size: int, dev: bool) -> None:
    """Subprocess: one configuration on one input (and the dev clips): one JSON line."""
    from transcription.engines import get_transcriber

    engine = "openai-whisper" if config == "openai" else "faster-whisper"
    compute = "float32" if config == "openai" else "int8"
    started = time.perf_counter()
    transcriber = get_transcriber(engine, model, compute_type=compute, cache_dir=cache_dir)
    load_s = time.perf_counter() - started
    options = _options(config, batch_size)
    options.compute_type = compute
    reports: list[float] = []

    def progress(position: float, duration: float) -> None:
        reports.append(100.0 * position / duration if duration > 0 else 0.0)

    cpu0, wall0 = _cpu_s(), time.perf_counter()
    result = transcriber.transcribe(audio, options, progress)
    wall_s, cpu_s = time.perf_counter() - wall0, _cpu_s() - cpu0
    peak = _peak_rss_mb()
    dev_texts = {}
    if dev:
        for name, _ in mandarin_clips():
            dev_texts[name] = transcriber.transcribe(SHARED_AUDIO / name, options).text
    points = [0.0, *reports, 100.0]
    print(json.dumps({
        "load_s": load_s, "wall_s": wall_s, "cpu_s": cpu_s, "peak_rss_mb": peak, "duration": result.duration,
        "text": result.text, "segments": len(result.segments), "progress_reports": len(reports),
        "progress_max_gap": max(b - a for a, b in zip(points, points[1:])), "dev": dev_texts,
    }, ensure_ascii=False))


def pipeline_worker(audio: str, model: str, cache_dir: str | None) -> None:
    """Subprocess: the engine alone on the 16 kHz FLAC, then the upload → job → stored transcript path."""
    import base64
    import hashlib
    import shutil

    instance = tempfile.mkdtemp(prefix="liufang-asr-throughput-")
    cache = cache_dir or str(Path(instance) / "models")
    os.environ.update(LIUFANG_INSTANCE_PATH=instance, SECRET_KEY="asr-bench-" + "x" * 32)
    from flask_migrate import upgrade

    from backend import create_app
    from backend.extensions import db
    from backend.models import Transcript
    from backend.services import transcripts
    from backend.services.users import create_user
    from media.ffmpeg import make_asr_audio
    from transcription.engines import get_transcriber

    app = create_app({"QUEUE_URL": "memory", "QUEUE_IMMEDIATE": True, "AUTO_TRANSCRIBE": True,
                      "ASR_MODEL": model, "MODEL_CACHE": cache, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        create_user(None, username="bench", password="bench-password", roles=["collector"])
        db.session.commit()
        options = transcripts._options({"language": "zh"})  # exactly what the job decodes with
        config = app.config
        transcriber = get_transcriber(config["ASR_ENGINE"], model, device=config["ASR_DEVICE"],
                                      compute_type=config["ASR_COMPUTE_TYPE"], threads=config["ASR_THREADS"],
                                      cache_dir=cache)
    asr = Path(instance) / "asr.flac"
    make_asr_audio(audio, asr)
    cpu0, started = _cpu_s(), time.perf_counter()
    transcriber.transcribe(asr, options)
    engine_s, engine_cpu = time.perf_counter() - started, _cpu_s() - cpu0

    data = Path(audio).read_bytes()
    meta = f"filename {base64.b64encode('长访谈.wav'.encode()).decode()},sha256 " + base64.b64encode(
        hashlib.sha256(data).hexdigest().encode()).decode()
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "bench", "password": "bench-password"})
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}", "Tus-Resumable": "1.0.0"}
    created = client.post("/api/v1/uploads", data=data[:-1], headers={
        **headers, "Upload-Length": str(len(data)), "Upload-Metadata": meta,
        "Content-Type": "application/offset+octet-stream"})
    cpu0, started = _cpu_s(), time.perf_counter()
    final = client.patch(created.headers["Location"], data=data[-1:], headers={
        **headers, "Upload-Offset": str(len(data) - 1), "Content-Type": "application/offset+octet-stream"})
    pipeline_s, pipeline_cpu = time.perf_counter() - started, _cpu_s() - cpu0
    with app.app_context():
        stored = db.session.query(Transcript).filter_by(
            material_id=int(final.headers["Liufang-Material-Id"])).count()
    if final.status_code != 204 or stored != 1:
        raise SystemExit(f"pipeline failed: {final.status_code} {final.get_data(as_text=True)[:300]}")
    shutil.rmtree(instance, ignore_errors=True)
    print(json.dumps({"engine_s": engine_s, "engine_cpu_s": engine_cpu, "pipeline_s": pipeline_s,
                      "pipeline_cpu_s": pipeline_cpu, "batch_size": options.batch_size}))


def _run(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _punctuation_per_100(text: str) -> float:
    marks = sum(c in PUNCTUATION for c in text)
    chars = sum(not c.isspace() and c not in PUNCTUATION for c in text)
    return 100.0 * marks / chars if chars else 0.0


def _dev_cer(texts: dict[str, str]) -> tuple[float, int]:
    refs = dict(mandarin_clips())
    scores = [cer(refs[name], text) for name, text in texts.items()]
    return sum(scores) / len(scores), sum(not text.strip() for text in texts.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="length of the throughput input (at least)")
    parser.add_argument("--batch-size", type=int, default=8, help="for the batched configuration")
    parser.add_argument("--long", type=float, nargs="*", default=[], help="long-interview lengths in minutes")
    parser.add_argument("--model", default=DEFAULT_MODEL_SOURCE)
    parser.add_argument("--cache-dir", default="")
    parser.add_argument("--skip-openai", action="store_true")
    parser.add_argument("--configs", nargs="+", choices=("sequential", "batched", "openai"),
                        default=["sequential", "batched", "openai"], help="engine configurations to measure")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-dev", action="store_true", help="no dev-set CER")
    parser.add_argument("--engine-worker", nargs=2, metavar=("CONFIG", "AUDIO"), help=argparse.SUPPRESS)
    parser.add_argument("--dev", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-worker", metavar="AUDIO", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cache = args.cache_dir or None
    if args.engine_worker:
        engine_worker(*args.engine_worker, args.model, cache, args.batch_size, args.dev)
        return
    if args.pipeline_worker:
        pipeline_worker(args.pipeline_worker, args.model, cache)
        return

    common = ["--model", args.model, "--cache-dir", args.cache_dir, "--batch-size", str(args.batch_size)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"model {args.model}", flush=True)
    if not args.skip_throughput:
        joined = build_joined_speech(args.minutes * 60, OUT_DIR / f"joined-{args.minutes:g}min.wav")
        print(f"\n## Throughput: {joined.path.name}, {joined.duration:.1f} s ({joined.duration / 60:.1f} min), "
              f"{joined.rounds} rounds of {joined.clips} clips", flush=True)
        header = ("configuration", "wall s", "× real time", "CPU s", "peak RSS MB", "CER (input)", "punct/100",
                  "segments", "dev CER", "dev empty")
        print(" | ".join(header), flush=True)

        def engine_row(config: str) -> None:
            dev = [] if args.skip_dev else ["--dev"]
            data = _run(["--engine-worker", config, str(joined.path), *common, *dev])
            label = {"sequential": "faster-whisper int8, sequential (default)",
                     "batched": f"faster-whisper int8, batched ×{args.batch_size}",
                     "openai": "openai-whisper float32 (reference)"}[config]
            dev_cer, dev_empty = _dev_cer(data["dev"]) if data["dev"] else (float("nan"), 0)
            print(" | ".join([
                label, f"{data['wall_s']:.1f}", f"{joined.duration / data['wall_s']:.2f}", f"{data['cpu_s']:.1f}",
                f"{data['peak_rss_mb']:.0f}", f"{cer(joined.reference, data['text']):.3f}",
                f"{_punctuation_per_100(data['text']):.1f}", str(data["segments"]), f"{dev_cer:.3f}",
                str(dev_empty)]), flush=True)

        for config in ("sequential", "batched"):
            if config in args.configs:
                engine_row(config)
        if not args.skip_pipeline:  # before the slow reference, so a cut-short run still has it
            data = _run(["--pipeline-worker", str(joined.path), *common])
            print(f"pipeline (last upload byte → transcript stored), batch size {data['batch_size']}: "
                  f"{data['pipeline_s']:.1f} s (CPU {data['pipeline_cpu_s']:.1f} s) against the engine alone "
                  f"{data['engine_s']:.1f} s (CPU {data['engine_cpu_s']:.1f} s) on the same 16 kHz FLAC: "
                  f"{data['pipeline_s'] / data['engine_s']:.3f}× wall, "
                  f"{data['pipeline_cpu_s'] / data['engine_cpu_s']:.3f}× CPU", flush=True)
        if not args.skip_openai and "openai" in args.configs:
            engine_row("openai")
    if args.long:
        print("\n## Long interviews, default options (sequential)", flush=True)
        print("length | audio s | wall s | × real time | CPU s | CPU s per audio min | peak RSS MB | progress reports "
              "| largest progress gap % | CER", flush=True)
        for minutes in args.long:
            joined = build_joined_speech(minutes * 60, OUT_DIR / f"joined-{minutes:g}min.wav")
            data = _run(["--engine-worker", "sequential", str(joined.path), *common])
            score = (f"{cer(joined.reference, data['text']):.3f}" if len(joined.reference) <= CER_MAX_CHARS
                     else "(not computed)")
            print(" | ".join([
                f"{minutes:g} min", f"{joined.duration:.0f}", f"{data['wall_s']:.0f}",
                f"{joined.duration / data['wall_s']:.2f}", f"{data['cpu_s']:.0f}",
                f"{60 * data['cpu_s'] / joined.duration:.1f}", f"{data['peak_rss_mb']:.0f}",
                str(data["progress_reports"]), f"{data['progress_max_gap']:.2f}", score]), flush=True)
            if minutes > 30:
                joined.path.unlink()  # ~230 MB for 2 h
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
