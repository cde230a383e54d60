"""The peer in the side-by-side benchmark: faster-whisper on callscore's own 16 kHz legs.

    python peer.py --model DIR --legs legs.json --threads 2 [--vad] --out peer.json

Run by run.py in the bench virtual environment (target/bench-venv). Loads the CTranslate2
model (int8), reads every leg callscore decoded (raw f32, see tool.rs `legs`), then times the
transcription alone: every leg of every call, one after another, beam size 1, English, with or
without faster-whisper's Silero VAD filter. Everything else is faster-whisper's default (it
conditions on previous text and re-decodes at higher temperatures when a window looks bad).
Writes the wall time and each leg's text.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from faster_whisper import WhisperModel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--legs", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--vad", action="store_true")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    model = WhisperModel(args.model, device="cpu", compute_type="int8",
                         cpu_threads=args.threads, num_workers=1)
    with open(args.legs, encoding="utf-8") as f:
        calls = json.load(f)
    audio = {(c["call"], leg["speaker"]): np.fromfile(leg["file"], dtype="<f4")
             for c in calls for leg in c["legs"]}

    texts: dict[str, dict[str, str]] = {}
    started = time.perf_counter()
    for c in calls:
        for leg in c["legs"]:
            segments, _info = model.transcribe(audio[(c["call"], leg["speaker"])],
                                               language="en", beam_size=1,
                                               vad_filter=args.vad)
            # `segments` is a generator: the work happens while it is consumed.
            text = " ".join(s.text.strip() for s in segments)
            texts.setdefault(c["call"], {})[leg["speaker"]] = text
    wall = time.perf_counter() - started

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"wall_s": wall, "transcripts": texts}, f, indent=1)


if __name__ == "__main__":
    main()
