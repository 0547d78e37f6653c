#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time on a fresh copy of its seed corpus, so that the
# inputs it adds stay in the build tree and the repository's corpus is never written.
#   run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS [libFuzzer options...]
# A crash, leak, timeout or out-of-memory fails the run; the input is saved in WORK_DIR/artifacts/.
set -euo pipefail
fuzzer=$1
seeds=$2
work=$3
seconds=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$seeds/." "$work/corpus/"
exec "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus"
