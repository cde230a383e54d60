#!/usr/bin/env bash
# The review pages' real-browser test, start to finish:
#   1. installs Debian's chromium when missing (scripts/install-deps.sh browser) and
#      playwright-core from package-lock.json (npm ci);
#   2. scores the fixture calls into a fresh database with `callscore score fixtures/calls/*.wav`
#      (needs the default model: `callscore model install`, which `just test` runs first);
#   3. starts `callscore serve` on a free loopback port, runs review_pages.test.mjs, stops it.
# Screenshots go to target/browser-artifacts/. UPDATE_DOCS=1 also copies the call page's
# screenshot to docs/review-page.png (the README's picture).
# Environment: CALLSCORE_BIN (default target/debug/callscore, built here), CHROMIUM
# (default /usr/bin/chromium), BROWSER_DB (reuse a scored database instead of scoring).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

artifacts="$root/target/browser-artifacts"
mkdir -p "$artifacts"

bash scripts/install-deps.sh browser
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "browser test: no Chromium at $CHROMIUM" >&2; exit 1; }
command -v npm >/dev/null || { echo "browser test: needs node (>= 20) and npm: apt-get install nodejs npm" >&2; exit 1; }

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

bin="${CALLSCORE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build -p callscore
  bin="$root/target/debug/callscore"
fi

db="${BROWSER_DB:-}"
if [ -z "$db" ]; then
  db="$artifacts/review.db"
  rm -f "$db" "$db-wal" "$db-shm"
  # Recordings are stored by the path given here, relative to the repository root, which is
  # also where the server runs.
  "$bin" score fixtures/calls/*.wav --db "$db" --quiet
fi

log="$artifacts/serve.log"
"$bin" serve --db "$db" --listen 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 || true)"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { echo "browser test: the server stopped:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "browser test: the server did not say where it listens:" >&2; cat "$log" >&2; exit 1; }

export CALLSCORE_URL="$url" ARTIFACTS_DIR="$artifacts"
(cd "$here" && node --test --test-reporter=spec review_pages.test.mjs)

if [ "${UPDATE_DOCS:-0}" = 1 ]; then
  mkdir -p docs
  cp "$artifacts/call-page.png" docs/review-page.png
  echo "browser test: docs/review-page.png updated" >&2
fi
