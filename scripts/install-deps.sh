#!/usr/bin/env bash
# Installs the system packages callscore needs, with apt-get, only when something is missing.
# Usage: scripts/install-deps.sh [build|fixtures|capture|browser|postgresql]...   (default: build)
#   build    cmake, clang, libclang-dev: whisper-rs builds whisper.cpp with cmake and bindgen.
#   fixtures espeak-ng, sox, ffmpeg, flite: re-rendering the synthetic call fixtures.
#   capture  sip-tester (sipp), tshark, espeak-ng: the SIP/RTP tests use a real SIP peer, and
#            mystery-shop calls (`callscore shop`) speak their `say` lines with espeak-ng.
#   browser  chromium, nodejs, npm: the review page's real-browser test.
#   postgresql  postgresql (server binaries initdb, pg_ctl, postgres): the PostgreSQL store and
#            queue tests start a throwaway server of their own (crates/callscore-pgtest).
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)

want=()
for g in "${groups[@]}"; do
  case "$g" in
    build)    want+=(cmake clang libclang-dev pkg-config) ;;
    fixtures) want+=(espeak-ng sox libsox-fmt-all ffmpeg flite) ;;
    capture)  want+=(sip-tester tshark espeak-ng) ;;
    postgresql) want+=(postgresql) ;;
    browser)  want+=(chromium)
              # Node may come from elsewhere than Debian; only ask apt for it when it is absent.
              command -v npm >/dev/null 2>&1 || want+=(nodejs npm) ;;
    *) echo "install-deps: unknown group '$g'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
