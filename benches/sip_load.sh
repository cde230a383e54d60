#!/usr/bin/env bash
# SIP load benchmark: sipp places CALLS calls (default 100), RATE per second (default 20), with up
# to CALLS at once, each one sipp's built-in uac_pcap call (7.08 s of A-law RTP, 33 packets/s, a
# DTMF digit, BYE), against `callscore record` on 127.0.0.1. It checks that every call was written
# (none lost) and reports peak concurrent calls, RTP packets/s received, and the recorder's CPU.
#
# Usage: bash benches/sip_load.sh            (env: CALLS, RATE, SIP_PORT, BIN)
# Needs sipp (scripts/install-deps.sh capture). sipp replays RTP through a raw socket: run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-100}
RATE=${RATE:-20}
SIP_PORT=${SIP_PORT:-15060}
BIN=${BIN:-target/release/callscore}

if [ "$BIN" = target/release/callscore ]; then
  cargo build --release -p callscore >&2
fi
command -v sipp >/dev/null || { echo "sip_load: sipp is not installed (scripts/install-deps.sh capture)" >&2; exit 2; }

work=$(mktemp -d)
recorder_pid=""
cleanup() {
  if [ -n "$recorder_pid" ] && kill -0 "$recorder_pid" 2>/dev/null; then kill -TERM "$recorder_pid"; wait "$recorder_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/out" "$work/sipp"
ln -s /usr/share/sip-tester "$work/sipp/pcap"

"$BIN" record --sip "127.0.0.1:$SIP_PORT" --rtp-ports 21000-21999 --out "$work/out" \
  --inactivity-timeout 30 >"$work/written.txt" 2>"$work/recorder.log" &
recorder_pid=$!

for _ in $(seq 1 100); do
  grep -q "recording SIP calls" "$work/recorder.log" 2>/dev/null && break
  kill -0 "$recorder_pid" 2>/dev/null || { cat "$work/recorder.log" >&2; exit 1; }
  sleep 0.1
done

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$recorder_pid/stat"; }
cpu_before=$(cpu_ticks)
start=$(date +%s.%N)

(cd "$work/sipp" && sipp "127.0.0.1:$SIP_PORT" -sn uac_pcap -m "$CALLS" -l "$CALLS" -r "$RATE" \
  -i 127.0.0.1 -mp 16000 -timeout 180s -timeout_error -nostdin -trace_err -error_file errors.log \
  >/dev/null 2>&1) || { echo "sip_load: sipp reported failed calls:" >&2; tail -20 "$work/sipp/errors.log" >&2 || true; }
sipp_done=$(date +%s.%N)

# Calls are written after their BYE; give the last ones a moment.
for _ in $(seq 1 100); do
  [ "$(wc -l <"$work/written.txt")" -ge "$CALLS" ] && break
  sleep 0.1
done
cpu_after=$(cpu_ticks)
kill -TERM "$recorder_pid"
wait "$recorder_pid" || true
recorder_pid=""

written=$(wc -l <"$work/written.txt")
wavs=$(find "$work/out" -name '*.wav' | wc -l)
stopped=$(grep "recorder stopped" "$work/recorder.log" | tail -1)
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$stopped"; }
rtp_packets=$(field rtp_packets)
peak=$(field peak_concurrent)
elapsed=$(echo "$sipp_done - $start" | bc -l)
cpu_s=$(echo "($cpu_after - $cpu_before) / $ticks" | bc -l)

# Every uac_pcap call carries the same 7.08 s: 56,640 16-bit mono samples after a 44-byte header.
complete=$(find "$work/out" -name '*.wav' -size 113324c | wc -l)

printf 'calls placed            %d (at %d/s, up to %d at once)\n' "$CALLS" "$RATE" "$CALLS"
printf 'calls written           %d (%d WAV files), lost %d\n' "$written" "$wavs" "$((CALLS - wavs))"
printf 'complete recordings     %d of %d hold all 7.08 s of audio\n' "$complete" "$wavs"
printf 'peak concurrent calls   %s\n' "$peak"
printf 'RTP packets received    %s in %.1f s: %.0f packets/s on average\n' "$rtp_packets" "$elapsed" "$(echo "$rtp_packets / $elapsed" | bc -l)"
printf 'recorder CPU            %.2f s user+system = %.1f%% of one core, %.1f%% of %d cores\n' \
  "$cpu_s" "$(echo "100 * $cpu_s / $elapsed" | bc -l)" "$(echo "100 * $cpu_s / $elapsed / $(nproc)" | bc -l)" "$(nproc)"

[ "$wavs" -eq "$CALLS" ] || { echo "sip_load: $((CALLS - wavs)) call(s) lost" >&2; exit 1; }
