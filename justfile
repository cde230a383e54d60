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
test: (deps "build" "capture" "browser" "postgresql") model-dev
    if cargo nextest --version >/dev/null 2>&1; then cargo nextest run --workspace --no-fail-fast; else cargo test --workspace --no-fail-fast; fi
    cargo test --workspace --doc
    {{dev_bin}} rubric test rubrics/tests --junit target/rubric-tests.xml
    CALLSCORE_BIN={{dev_bin}} bash tests/browser/run.sh

# Benchmarks (divan): transcription real-time factor, rubric scorecards/s, store, search, the
# PostgreSQL queue (1, 2 and 4 workers), capture; the
# sipp load test; then the side-by-side run against faster-whisper (benches/RESULTS.md).
bench: (deps "build" "capture" "fixtures" "postgresql") model-release
    cargo bench -p callscore-benches
    bash benches/sip_load.sh
    just bench-side-by-side

# callscore's whole pipeline against faster-whisper on the same weights, same audio, same threads;
# the virtual environment for the peer is created on first use (pip, from the package registry).
bench-side-by-side: (deps "build" "fixtures") model-release
    cargo build --release -p callscore -p callscore-benches --bin callscore --bin side-by-side
    test -x target/bench-venv/bin/python || python3 -m venv target/bench-venv
    target/bench-venv/bin/python -c "import faster_whisper" 2>/dev/null || target/bench-venv/bin/pip install -q --disable-pip-version-check "faster-whisper==1.2.1"
    target/bench-venv/bin/python benches/side_by_side/run.py --write-results benches/RESULTS.md

# Install the Whisper models (tiny.en, the default, and the multilingual base) into the model
# cache; a no-op when present.
model: model-release

model-release:
    cargo build --release -p callscore
    {{release_bin}} model install
    {{release_bin}} model install base
    {{release_bin}} model install speaker-encoder

model-dev:
    cargo build -p callscore
    {{dev_bin}} model install
    {{dev_bin}} model install base
    {{dev_bin}} model install speaker-encoder

# Re-render the synthetic call fixtures with espeak-ng, flite and sox.
fixtures: (deps "fixtures")
    python3 fixtures/render.py
    python3 fixtures/render_pci.py

# cargo-deny checks licences, bans and sources; its advisory check runs only where the RustSec
# database is already on the machine (it is fetched from outside the package registries, which
# these machines cannot reach).
# Formatting, clippy -D warnings, and the supply-chain check (cargo-deny).
lint: (deps "build")
    cargo fmt --all -- --check
    cargo fmt --manifest-path fuzz/Cargo.toml -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked
    cargo deny check licenses bans sources
    db="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"; \
    if [ -n "$(ls -A "$db" 2>/dev/null)" ]; then cargo deny --offline check advisories; \
    else echo "cargo deny: advisories skipped (no RustSec database in $db; it cannot be fetched here)"; fi

# Not part of `just test`. Crashes land in fuzz/artifacts/TARGET/ (and fail the recipe).
# -malloc_limit_mb is above -rss_limit_mb because symphonia allocates a packet buffer of whatever
# size an MP4 sample table declares (up to 4 GiB, zero-filled lazily, so no memory is used when
# the read then fails; fixtures/bad/fuzz_mp4_huge_sample.m4a); real memory use is still capped.
# cargo-fuzz needs nightly compiler flags: the nightly toolchain when installed, else the stable
# one with RUSTC_BOOTSTRAP=1 (for the fuzz build only).
# Fuzz every parser of outside input (fuzz/, libFuzzer) for a fixed number of executions each.
fuzz runs="20000" *targets="": (deps "build")
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    python3 fuzz/seed.py
    if rustup run nightly rustc --version >/dev/null 2>&1; then fuzz="cargo +nightly fuzz"; \
    else fuzz="env RUSTC_BOOTSTRAP=1 cargo fuzz"; fi; \
    cd fuzz && mkdir -p logs && targets="{{targets}}"; [ -n "$targets" ] || targets="$($fuzz list)"; \
    for t in $targets; do \
      echo "== $t: {{runs}} executions"; \
      if ! $fuzz run -O "$t" "corpus/$t" -- -runs={{runs}} -max_len=65536 -rss_limit_mb=2048 \
          -malloc_limit_mb=8192 -timeout=30 -print_final_stats=1 > "logs/$t.log" 2>&1; then \
        tail -n 40 "logs/$t.log"; echo "fuzz target $t failed: see fuzz/artifacts/$t/"; exit 1; \
      fi; \
      grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "logs/$t.log" || true; \
    done

# Install missing system packages (apt-get) for the given groups.
deps +groups="build":
    bash scripts/install-deps.sh {{groups}}
