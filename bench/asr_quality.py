"""ASR quality bench: CER by clip and overall, empty outputs, Traditional characters and punctuation on the shared clips.

Usage:  .venv/bin/python bench/asr_quality.py [--prompt default|none|short|natural|instruction|context|"text" ...]
                                              [--model SOURCE] [--engine faster-whisper] [--device auto] [--runs N]

The clips are the Mandarin rows of ../shared/audio/references.tsv (LIUFANG_SHARED_DIR overrides ../shared). Each
clip goes through the path a backend transcription job takes: TranscribeOptions.for_language (the job's options),
the cached transcriber of transcription.engines (with its prompt-echo re-decoding) and the Chinese clean-up
(transcription.chinese.postprocess). Figures are on the cleaned text, as an editor receives it:

- CER after t2s, punctuation and space removal (transcription.cer); "CER" is total edits / total reference
  characters, "mean" the mean of the clips' CERs, "CER 1/一" the overall CER with Arabic digits read as Chinese
  digit characters on both sides (the references spell 13740052246 as 一三七四零零五二二四六);
- empty: clips with speech whose cleaned transcript is empty;
- trad: characters that OpenCC t2s would still change (Traditional characters left in the output);
- punct/100: punctuation marks per 100 non-punctuation characters of output (the references have none; editors
  want them);
- redecoded: segments decoded again because their first text echoed the prompt.

Several --prompt values are measured one after another with the same loaded model. --runs N decodes every clip N
times per prompt and reports whether the texts were identical. --device auto uses a CUDA GPU when CTranslate2
sees one (compute type float16 there, int8 on CPU).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from transcription.audio import probe_duration  # noqa: E402
from transcription.base import TranscribeOptions  # noqa: E402
from transcription.cer import cer, levenshtein, normalize_for_cer  # noqa: E402
from transcription.chinese import postprocess, to_simplified  # noqa: E402
from transcription.engines import get_transcriber, resolve_compute_type, resolve_device  # noqa: E402
from transcription.models import DEFAULT_MODEL_SOURCE  # noqa: E402
from transcription.prompts import PROMPT_STYLES, SpeechContext  # noqa: E402

SHARED_AUDIO = Path(os.environ.get("LIUFANG_SHARED_DIR", ROOT.parent / "shared")) / "audio"

#: An archive context like one the backend builds from an interview, unrelated to the clips' content: measures
#: what a context prompt costs on speech that does not mention its names.
SAMPLE_CONTEXT = {
    "names": ["张秀英", "张老师"],
    "native_place": "江苏省扬州市",
    "occupations": ["退休教师"],
    "interview_place": "扬州市广陵区",
    "topic": "老城区的变迁",
}


@dataclass
class Reference:
    name: str
    path: Path
    text: str


@dataclass
class ClipResult:
    name: str
    reference: str
    text: str
    cer: float
    edits: int
    ref_chars: int
    wall_s: float
    redecoded: int
    digit_edits: int


def load_references(audio_dir: Path = SHARED_AUDIO, language: str = "zh") -> list[Reference]:
    with open(audio_dir / "references.tsv", encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f, delimiter="\t") if row["language"] == language]
    return [Reference(row["file"], audio_dir / row["file"], row["reference"]) for row in rows]


def traditional_chars(text: str) -> int:
    """Characters that t2s would still change."""
    return sum(1 for char in text if to_simplified(char) != char)


def punctuation_per_100(text: str) -> float:
    marks = sum(1 for char in text if unicodedata.category(char).startswith("P"))
    others = sum(1 for char in text if not unicodedata.category(char).startswith(("P", "Z")))
    return 100.0 * marks / others if others else 0.0


def options_for(prompt: str) -> TranscribeOptions:
    """The job's options for a --prompt value: default (what a job uses), a prompt style of transcription.prompts,
    context (the default style with SAMPLE_CONTEXT, as for a material linked to an interview), or literal text."""
    if prompt == "default":
        return TranscribeOptions.for_language("zh")
    if prompt == "context":
        return TranscribeOptions.for_language("zh", context=SpeechContext(**SAMPLE_CONTEXT))
    if prompt in PROMPT_STYLES:
        return TranscribeOptions.for_language("zh", prompt_style=prompt)
    options = TranscribeOptions.for_language("zh")
    options.initial_prompt = prompt
    return options


def run_prompt(transcriber, refs: list[Reference], options: TranscribeOptions) -> list[ClipResult]:
    results = []
    for ref in refs:
        start = time.perf_counter()
        raw = transcriber.transcribe(ref.path, options)
        cleaned = postprocess(raw)
        wall = time.perf_counter() - start
        text = cleaned.text
        norm_ref, norm_hyp = normalize_for_cer(ref.text), normalize_for_cer(text)
        edits = levenshtein(norm_ref, norm_hyp)
        redecoded = sum(1 for s in cleaned.segments if s.meta.get("redecoded"))
        digit_edits = levenshtein(normalize_for_cer(ref.text, True), normalize_for_cer(text, True))
        results.append(ClipResult(ref.name, ref.text, text, cer(ref.text, text), edits, len(norm_ref), wall,
                                  redecoded, digit_edits))
    return results


def summary(results: list[ClipResult]) -> dict[str, float]:
    texts = "".join(r.text for r in results)
    return {
        "cer_overall": sum(r.edits for r in results) / max(1, sum(r.ref_chars for r in results)),
        "cer_digits": sum(r.digit_edits for r in results) / max(1, sum(r.ref_chars for r in results)),
        "cer_mean": sum(r.cer for r in results) / max(1, len(results)),
        "empty": sum(1 for r in results if not normalize_for_cer(r.text)),
        "traditional": traditional_chars(texts),
        "punct_per_100": punctuation_per_100(texts),
        "redecoded": sum(r.redecoded for r in results),
        "wall_s": sum(r.wall_s for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", nargs="+", default=["default"])
    parser.add_argument("--model", default=DEFAULT_MODEL_SOURCE)
    parser.add_argument("--engine", default="faster-whisper")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--compute-type", default=None, help="default: float16 on cuda, int8 on cpu")
    parser.add_argument("--runs", type=int, default=1, help="decode every clip N times; reports whether texts match")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="override a TranscribeOptions field for an experiment (temperature=0, vad_filter=false)")
    parser.add_argument("--json", type=Path, help="also write all figures and texts here")
    parser.add_argument("--quiet", action="store_true", help="only the summary table")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    compute_type = resolve_compute_type(device, args.compute_type or "auto")
    refs = load_references()
    audio_s = sum(probe_duration(r.path) for r in refs)
    start = time.perf_counter()
    transcriber = get_transcriber(args.engine, args.model, device=device, compute_type=compute_type)
    load_s = time.perf_counter() - start
    print(f"# {args.engine} {args.model} on {device} ({compute_type}); {len(refs)} Mandarin clips, {audio_s:.1f} s "
          f"of audio from {SHARED_AUDIO}; model loaded in {load_s:.1f} s")
    table = []
    dump = {}
    for prompt in args.prompt:
        options = options_for(prompt)
        for override in args.set:
            key, _, value = override.partition("=")
            setattr(options, key, json.loads(value))
        runs = [run_prompt(transcriber, refs, options) for _ in range(args.runs)]
        results = runs[0]
        identical = all([r.text for r in run] == [r.text for r in results] for run in runs[1:])
        figures = summary(results)
        table.append((prompt, figures, identical))
        dump[prompt] = {"initial_prompt": options.initial_prompt, "figures": figures,
                        "identical_runs": identical if args.runs > 1 else None,
                        "clips": [r.__dict__ for r in results],
                        "runs": [[r.text for r in run] for run in runs]}
        if not args.quiet:
            print(f"\n## prompt {prompt!r}: {options.initial_prompt!r}")
            print(f"{'clip':<30} {'CER':>6} {'s':>5}  text | reference")
            for r in results:
                mark = f" [re-decoded {r.redecoded}]" if r.redecoded else ""
                print(f"{r.name:<30} {r.cer:6.3f} {r.wall_s:5.1f}  {r.text} | {r.reference}{mark}")
            if args.runs > 1:
                for i, run in enumerate(runs[1:], 2):
                    for a, b in zip(results, run):
                        if a.text != b.text:
                            print(f"   run {i} differs on {a.name}: {b.text}")
    print(f"\n{'prompt':<12} {'CER':>6} {'mean':>6} {'CER 1/一':>8} {'empty':>5} {'trad':>4} {'punct/100':>9} {'re-dec':>6} "
          f"{'wall s':>7}" + ("  identical runs" if args.runs > 1 else ""))
    for prompt, f, identical in table:
        label = prompt if len(prompt) <= 12 else prompt[:11] + "…"
        print(f"{label:<12} {f['cer_overall']:6.3f} {f['cer_mean']:6.3f} {f['cer_digits']:8.3f} {f['empty']:5d} {f['traditional']:4d} "
              f"{f['punct_per_100']:9.1f} {f['redecoded']:6d} {f['wall_s']:7.1f}"
              + (f"  {'yes' if identical else 'NO'}" if args.runs > 1 else ""))
    if args.json:
        args.json.write_text(json.dumps(dump, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
