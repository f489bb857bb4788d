#!/usr/bin/env bash
# Builds the working tree into a private, self-contained Farrier under $1 (dist/ compiled with tsc, symlinks to
# node_modules and the shipped content), so a benchmark runs compiled code that other edits of src/ or dist/
# cannot change halfway through a run. Prints the path of the CLI entry point.
# usage: bench/lib/build-farrier.sh DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:?usage: build-farrier.sh DIR}
mkdir -p "$OUT"
(cd "$ROOT" && node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$OUT/dist" --sourceMap false) >&2
for f in node_modules bootenvs templates openapi.yaml package.json; do ln -sfn "$ROOT/$f" "$OUT/$f"; done
echo "$OUT/dist/cli/main.js"
