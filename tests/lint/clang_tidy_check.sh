#!/usr/bin/env bash
# clang-tidy over every tracked translation unit, with the repo's .clang-tidy (warnings are
# errors there), using the build's compile_commands.json.
set -euo pipefail
src=$1
build=$2
cd "$src"
mapfile -t files < <(git ls-files '*.cc' | grep -v '^tests/fuzz/')
runner=$(command -v run-clang-tidy || command -v run-clang-tidy-14)
"$runner" -quiet -p "$build" -j "$(nproc)" "${files[@]/#/$src/}" >"$build/clang-tidy.log" 2>&1 ||
  { grep -E "error:|warning:" "$build/clang-tidy.log" | sort -u | head -50 >&2; exit 1; }
echo "clang-tidy: ${#files[@]} files clean"
