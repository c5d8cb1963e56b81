# Sourced by scripts/build and scripts/bench-bundle: turns cargo's frontend.wasm into what the
# browser loads, as `cargo leptos build --split` does. wasm-split cuts every split point
# (`split_view!` in app/src/components/in_browser.rs) and whatever only it reaches into a chunk
# of its own (split_*.wasm, chunk_*.wasm, named with a hash of the build) with a loader
# (__wasm_split.js) that fetches a chunk on the first call; wasm-bindgen then makes the main
# module's JS glue, keeping the exports the chunks link against; with optimise=1, wasm-opt
# shrinks the main module and every chunk.
# shellcheck shell=bash

# bundle_wasm <cargo's frontend.wasm> <output folder> <optimise: 0|1>
bundle_wasm() {
  local input=$1 out=$2 optimise=$3 work
  work=$(mktemp -d)
  # The linker's relocations (-Clink-args=--emit-relocs, set by wasm_rustflags) tell
  # wasm-split which function uses which.
  wasm-split-cli "$input" "$work" --target web --out-name "$LEPTOS_OUTPUT_NAME"
  mkdir -p "$out"
  rm -f "$out"/split_*.wasm "$out"/chunk_*.wasm "$out"/__wasm_split*.js
  wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle --out-dir "$out" --out-name "$LEPTOS_OUTPUT_NAME" \
    "$work/$LEPTOS_OUTPUT_NAME.wasm"
  # Leptos asks for <name>.wasm; wasm-bindgen writes <name>_bg.wasm (cargo-leptos renames it too).
  mv -f "$out/${LEPTOS_OUTPUT_NAME}_bg.wasm" "$out/${LEPTOS_OUTPUT_NAME}.wasm"
  sed -i "s/${LEPTOS_OUTPUT_NAME}_bg\.wasm/${LEPTOS_OUTPUT_NAME}.wasm/g" "$out/${LEPTOS_OUTPUT_NAME}.js"
  # Chunks only work with the main module of their own build, so their names carry the build:
  # a page still running the previous build asks for its own chunks' names, gets a 404, and
  # says "reload" (see app/src/components/in_browser.rs) instead of linking a foreign chunk.
  local build chunk name
  build=$(sha256sum "$work/$LEPTOS_OUTPUT_NAME.wasm" | cut -c1-12)
  cp "$work"/__wasm_split*.js "$out/"
  for chunk in "$work"/split_*.wasm "$work"/chunk_*.wasm; do
    [ -f "$chunk" ] || continue
    name=$(basename "$chunk" .wasm)
    cp "$chunk" "$out/$name.$build.wasm"
    sed -i "s|\"\./$name\.wasm\"|\"./$name.$build.wasm\"|g" "$out"/__wasm_split*.js
  done
  rm -rf "$work"
  if [ "$optimise" -eq 1 ]; then
    # --converge repeats -Oz until it stops shrinking: ~0.5 % smaller for about twice the time.
    local file
    for file in "$out/$LEPTOS_OUTPUT_NAME.wasm" "$out"/split_*.wasm "$out"/chunk_*.wasm; do
      [ -f "$file" ] || continue
      wasm-opt -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int "$file" -o "$file"
    done
  fi
}

# RUSTFLAGS for the wasm32 build: the shared ones, relocations for wasm-split, and crates.io
# sources' paths shortened (panic locations keep "leptos-0.8.23/src/…" instead of the whole
# registry path: ~14 KB less of the bundle's data). The checkout's own path is left alone: it
# differs between clones, and flags that differ would rebuild every dependency.
wasm_rustflags() {
  # --cfg erase_components as in .cargo/config.toml (RUSTFLAGS replaces the config's flags).
  local flags="--cfg erase_components -Clink-args=--emit-relocs" registry
  for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    [ -d "$registry" ] && flags="$flags --remap-path-prefix=$registry="
  done
  printf '%s' "$flags"
}
