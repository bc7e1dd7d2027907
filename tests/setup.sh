#!/usr/bin/env bash
# Installs system packages (idempotent), builds the release binary into target/release/,
# and, unless --no-serve is given, starts `voxdesk serve` on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(cmake clang libclang-dev pkg-config libespeak-ng-dev espeak-ng sox sip-tester baresip-core)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install a Rust toolchain (rustup, Rust 1.85+) first" >&2
  exit 1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/voxdesk/target}"
cargo build --release
mkdir -p target/release
cp -f "$CARGO_TARGET_DIR/release/voxdesk" target/release/voxdesk
if [ "${1:-}" != "--no-serve" ]; then
  exec target/release/voxdesk serve
fi
