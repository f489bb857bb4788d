#!/usr/bin/env bash
# Builds Farrier into a private, self-contained directory $1 (dist/ compiled with tsc, symlinks to node_modules
# and the shipped content), so a benchmark runs compiled code that later edits of src/ or dist/ cannot change
# halfway through a run. Prints the path of the CLI entry point.
# By default the committed tree (git HEAD) is built, so work in progress elsewhere in the repository never
# breaks or skews a run; FARRIER_SOURCE=worktree builds the working tree instead (e.g. to try a fix).
# usage: bench/lib/build-farrier.sh DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:?usage: build-farrier.sh DIR}
mkdir -p "$OUT"
if [ "${FARRIER_SOURCE:-HEAD}" = worktree ]; then
  SRC=$ROOT
else
  SRC=$OUT/tree
  mkdir -p "$SRC"
  git -C "$ROOT" archive HEAD src package.json tsconfig.json tsconfig.build.json | tar -x -C "$SRC"
  ln -sfn "$ROOT/node_modules" "$SRC/node_modules"
  git -C "$ROOT" rev-parse --short HEAD >"$OUT/commit"
fi
(cd "$SRC" && node "$ROOT/node_modules/typescript/bin/tsc" -p tsconfig.build.json --outDir "$OUT/dist" --sourceMap false) >&2
for f in node_modules bootenvs templates openapi.yaml package.json; do ln -sfn "$ROOT/$f" "$OUT/$f"; done
echo "$OUT/dist/cli/main.js"
