"""One lever at a time: callscore's transcriber in-process with given options, on the bench calls.

    python3 benches/side_by_side/levers.py --model MODEL.bin [--calls fixtures|long|all] \
        'name=--feed concatenated' 'packed=' 'q8=--model q8.bin' ...

Each variant runs `side-by-side transcribe` (tool.rs) with its arguments; prints wall seconds,
CPU seconds (user + system: steadier than wall time on a shared machine), peak RSS and WER (mean
per leg and pooled) against the scripts, as run.py measures them. The figures in
benches/RESULTS.md's lever table come from here.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tool", default=str(run.ROOT / "target/release/side-by-side"))
    ap.add_argument("--calls", default="all", choices=["fixtures", "long", "all"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("variants", nargs="+", metavar="NAME=ARGS")
    args = ap.parse_args()

    calls = []
    if args.calls in ("fixtures", "all"):
        calls += sorted((run.ROOT / "fixtures" / "calls").glob("*.wav"))
    if args.calls in ("long", "all"):
        calls += run.render_long_calls()
    tool = Path(args.tool)
    legs = json.loads(subprocess.run([str(tool), "legs", str(run.BENCH / "legs"), *map(str, calls)],
                                     capture_output=True, text=True, check=True).stdout)
    audio_s = sum(c["duration_ms"] for c in legs) / 1000
    scorer = run.Scorer(tool, legs)
    print(f"{len(calls)} calls, {audio_s:.0f} s of audio", file=sys.stderr)
    print("| variant | wall s | CPU s | call-s per CPU-s | peak RSS | mean per-leg WER | pooled WER |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for _ in range(args.repeat):
        for v in args.variants:
            name, _, extra = v.partition("=")
            out = run.BENCH / f"lever-{name}.json"
            cmd = [str(tool), "transcribe", "--model", args.model, *shlex.split(extra), *map(str, calls)]
            started = time.perf_counter()
            with open(out, "w", encoding="utf-8") as f:
                proc = subprocess.Popen(cmd, stdout=f)
                _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            if os.waitstatus_to_exitcode(status) != 0:
                print(f"{name}: failed", file=sys.stderr)
                continue
            cpu = usage.ru_utime + usage.ru_stime
            result = json.loads(out.read_text(encoding="utf-8"))
            w = scorer.wer(result["transcripts"])
            print(f"| {name} | {wall:.1f} | {cpu:.1f} | {audio_s / cpu:.1f} | "
                  f"{usage.ru_maxrss / 1024:.0f} MiB | {w['mean_leg_wer']:.3f} | {w['pooled_wer']:.3f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
