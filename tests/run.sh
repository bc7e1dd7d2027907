#!/usr/bin/env bash
# Runs every test: unit, property, and SIPp/baresip calls against the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh --no-serve
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/voxdesk/target}"
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release --no-fail-fast
