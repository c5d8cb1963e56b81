# Sourced by every script: one set of build variables, so the site build, `cargo test` and the
# run command share cargo's cache instead of rebuilding dependencies for each other.
# shellcheck shell=bash

GENNAKER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export GENNAKER_ROOT

[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"

# cargo's target dir lives outside the checkout (so fresh clones, such as CI's, reuse the build)
# and is linked as ./target, so `target/site` and `target/debug/gennaker` are where the README
# says. Set GENNAKER_TARGET_DIR to put it elsewhere; an existing ./target folder is kept as is.
GENNAKER_TARGET_DIR="${GENNAKER_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gennaker/target}"
if [ ! -e "$GENNAKER_ROOT/target" ] && [ ! -L "$GENNAKER_ROOT/target" ]; then
  mkdir -p "$GENNAKER_TARGET_DIR"
  ln -s "$GENNAKER_TARGET_DIR" "$GENNAKER_ROOT/target"
fi

# What cargo-leptos would export; the server reads the same names at run time.
export RUSTFLAGS="--cfg erase_components"
export LEPTOS_OUTPUT_NAME=gennaker
# Absolute: the server (started from any folder, e.g. by Playwright in end2end/) reads it too.
export LEPTOS_SITE_ROOT="$GENNAKER_ROOT/target/site"
export LEPTOS_SITE_PKG_DIR=pkg
export LEPTOS_SITE_ADDR="127.0.0.1:3000"
export LEPTOS_RELOAD_PORT=3001
export LEPTOS_LIB_DIR=frontend
export LEPTOS_BIN_DIR=server
export LEPTOS_ENV="${LEPTOS_ENV:-DEV}"

# The exact wasm-bindgen the `wasm-bindgen` crate is pinned to (see Cargo.toml).
export WASM_BINDGEN_VERSION=0.2.130
# The wasm-split CLI matching the `wasm_split_helpers` 0.2 that Leptos' `#[lazy]` links against.
export WASM_SPLIT_VERSION=0.2.4

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
