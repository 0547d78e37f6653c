#!/usr/bin/env bash
# cppcheck over the product's translation units (hashing/, config/, proxy/) with the include paths
# and defines of the build's compile_commands.json; any finding fails. A false positive is
# suppressed where it is (`// cppcheck-suppress <id>`) with a comment saying why it is false.
#
# Two checks are off for the whole tree, as a matter of style rather than of defects:
# - useStlAlgorithm: a one-line loop reads as well as the algorithm call it suggests;
# - shadowFunction: accessors are named after what they return (`pool()`), and a local holding
#   that same thing carries the same name; the compiler's -Wshadow already rejects a local that
#   hides a variable.
# Results per file are cached in the build tree, so a second run only analyses what changed.
set -euo pipefail
src=$(cd "$1" && pwd -P)
build=$(cd "$2" && pwd -P)
work=$build/cppcheck
mkdir -p "$work"
# The product's entries of the compilation database, selected here: cppcheck's --file-filter
# matches paths in a form that depends on how the database and the directory were named.
count=$(/usr/bin/python3 - "$src" "$build/compile_commands.json" "$work/product.json" <<'PY'
import json, os, sys
src, database, product = sys.argv[1:]
dirs = tuple(os.path.join(src, d) + os.sep for d in ("hashing", "config", "proxy"))
with open(database, encoding="utf-8") as f:
    entries = [e for e in json.load(f)
               if os.path.realpath(os.path.join(e["directory"], e["file"])).startswith(dirs)]
if not entries:
    sys.exit("cppcheck_check: no hashing/, config/ or proxy/ file in " + database)
with open(product, "w", encoding="utf-8") as f:
    json.dump(entries, f, indent=1)
print(len(entries))
PY
)
cppcheck --project="$work/product.json" \
  --enable=warning,style,performance,portability --inline-suppr \
  --suppress=useStlAlgorithm --suppress=shadowFunction \
  --cppcheck-build-dir="$work" -j "$(nproc)" --quiet --error-exitcode=1 \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
  >"$build/cppcheck.log" 2>&1 || { cat "$build/cppcheck.log" >&2; exit 1; }
echo "cppcheck: $count files clean"
