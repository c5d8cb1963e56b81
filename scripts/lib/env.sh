# Sourced by every script: one set of build variables, so the site build, `cargo test` and the
# run command share cargo's cache instead of rebuilding dependencies for each other.
# shellcheck shell=bash

GENNAKER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export GENNAKER_ROOT

[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"

# cargo's target dir: the conventional ./target, or CARGO_TARGET_DIR when set (.ci/run points
# it at a cache outside the checkout, so a fresh clone reuses the build). Everything the
# scripts build or install lands in it: the site, the binaries, target/tools.
GENNAKER_TARGET="${CARGO_TARGET_DIR:-$GENNAKER_ROOT/target}"
export GENNAKER_TARGET
# Playwright (end2end/) starts this binary.
export GENNAKER_BINARY="${GENNAKER_BINARY:-$GENNAKER_TARGET/debug/gennaker}"

# Build flags live in .cargo/config.toml, shared with plain `cargo build`/`cargo test`; a
# RUSTFLAGS in the environment would replace them (and rebuild everything), so it is dropped.
unset RUSTFLAGS
# Also set by .cargo/config.toml for cargo; exported for what is not started by cargo.
export LEPTOS_OUTPUT_NAME=gennaker
# Absolute: the server (started from any folder, e.g. by Playwright in end2end/) reads it too.
export LEPTOS_SITE_ROOT="$GENNAKER_TARGET/site"
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
