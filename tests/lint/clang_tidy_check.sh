#!/usr/bin/env bash
# clang-tidy over the product's translation units (hashing/, config/, proxy/), with the repo's
# .clang-tidy (warnings are errors there), using the build's compile_commands.json. Tests and
# benchmarks are left out: they triple the time (gtest's macros are expensive to analyse) for
# code that the sanitizer runs already exercise.
set -euo pipefail
src=$1
build=$2
cd "$src"
mapfile -t files < <(git ls-files 'hashing/*.cc' 'config/*.cc' 'proxy/*.cc')
runner=$(command -v run-clang-tidy || command -v run-clang-tidy-14)
# The compile commands are gcc's: clang does not know every gcc warning option they name.
"$runner" -quiet -p "$build" -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
  "${files[@]/#/$src/}" >"$build/clang-tidy.log" 2>&1 ||
  { grep -E "error:|warning:" "$build/clang-tidy.log" | sort -u | head -50 >&2; exit 1; }
echo "clang-tidy: ${#files[@]} files clean"
