# callscore: the commands the README names. `just --list` shows them all.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Release binary for the demo and benchmarks; the test suite uses the dev profile.
release_bin := "target/release/callscore"
dev_bin := "target/debug/callscore"
demo_db := "target/demo/callscore.db"

# Show the recipes.
default:
    @just --list

# The main job on the bundled sample calls: transcribe, score, store, report, flagged queue.
demo: (deps "build") model-release
    cargo build --release -p callscore
    rm -rf target/demo && mkdir -p target/demo
    {{release_bin}} score fixtures/calls/*.wav --db {{demo_db}}
    @echo
    {{release_bin}} report --db {{demo_db}}
    @echo
    {{release_bin}} flagged --db {{demo_db}}

# The whole test suite: unit, integration, golden files, rubric regression cases, real peers.
test: (deps "build" "capture" "browser") model-dev
    if cargo nextest --version >/dev/null 2>&1; then cargo nextest run --workspace --no-fail-fast; else cargo test --workspace --no-fail-fast; fi
    cargo test --workspace --doc
    {{dev_bin}} rubric test rubrics/tests --junit target/rubric-tests.xml
    CALLSCORE_BIN={{dev_bin}} bash tests/browser/run.sh

# Benchmarks (divan): transcription real-time factor, rubric scorecards/s, store, capture; the
# sipp load test; then the side-by-side run against faster-whisper (benches/RESULTS.md).
bench: (deps "build" "capture" "fixtures") model-release
    cargo bench -p callscore-benches
    bash benches/sip_load.sh
    just bench-side-by-side

# callscore's whole pipeline against faster-whisper on the same weights, same audio, same threads;
# the virtual environment for the peer is created on first use (pip, from the package registry).
bench-side-by-side:
    cargo build --release -p callscore -p callscore-benches --bin callscore --bin side-by-side
    test -x target/bench-venv/bin/python || python3 -m venv target/bench-venv
    target/bench-venv/bin/python -c "import faster_whisper" 2>/dev/null || target/bench-venv/bin/pip install -q --disable-pip-version-check "faster-whisper==1.2.1"
    target/bench-venv/bin/python benches/side_by_side/run.py --write-results benches/RESULTS.md

# Install the default Whisper model (tiny.en) into the model cache; a no-op when present.
model: model-release

model-release:
    cargo build --release -p callscore
    {{release_bin}} model install

model-dev:
    cargo build -p callscore
    {{dev_bin}} model install

# Re-render the synthetic call fixtures with espeak-ng and sox.
fixtures: (deps "fixtures")
    python3 fixtures/render.py

# Formatting and lints.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Install missing system packages (apt-get) for the given groups.
deps +groups="build":
    bash scripts/install-deps.sh {{groups}}
