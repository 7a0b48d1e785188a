#!/usr/bin/env bash
# Builds and runs the C core's sanitizer checks (`npm run fuzz:native`):
#   1. sha512_test (FIPS 180-4 examples) under AddressSanitizer + UndefinedBehaviorSanitizer;
#   2. fuzz.c under ASan + UBSan for SECONDS (or ITERATIONS per thread), THREADS threads;
#   3. fuzz.c under ThreadSanitizer with 2 threads for a quarter of that (at most 30 s), unless --no-tsan.
# Each links native/src/*.c except addon.c (no N-API), at -O1 -g. The corpus of valid signatures (there is
# no signing in C) is made by make-corpus.ts with Bun when missing or stale. Exits non-zero on any
# sanitizer report, mismatch or build failure.
#
#   bash native/fuzz/run.sh [SECONDS] [--iterations N] [--threads N] [--seed N] [--no-tsan]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="$root/native/src"
build="$here/build"
seconds=60 iterations="" threads=2 seed="" tsan=1
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --no-tsan) tsan=0; shift ;;
    --seconds) seconds="$2"; shift 2 ;;
    [0-9]*) seconds="$1"; shift ;;
    *) echo "usage: bash native/fuzz/run.sh [SECONDS] [--iterations N] [--threads N] [--seed N] [--no-tsan]" >&2; exit 2 ;;
  esac
done
[ -n "$seed" ] || seed="$(date +%s)"

cc="${CC:-gcc}"
sources=()
for f in "$src"/*.c; do [ "$(basename "$f")" = addon.c ] || sources+=("$f"); done
if [ ${#sources[@]} -eq 0 ]; then echo "run.sh: no C sources in $src" >&2; exit 2; fi
mkdir -p "$build"

common=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -I "$src" -pthread)
asan=(-fsanitize=address,undefined -fno-sanitize-recover=all)
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

corpus="$build/corpus.bin"
if [ ! -f "$corpus" ] || [ "$here/make-corpus.ts" -nt "$corpus" ] || [ "$root/test/crypto/differential.ts" -nt "$corpus" ]; then
  (cd "$root" && npx bun native/fuzz/make-corpus.ts "$corpus")
fi

echo "== sha512_test (ASan + UBSan)"
"$cc" "${common[@]}" "${asan[@]}" -o "$build/sha512_test" "$here/sha512_test.c" "${sources[@]}"
"$build/sha512_test"

run_args=(--corpus "$corpus" --seed "$seed" --threads "$threads")
if [ -n "$iterations" ]; then run_args+=(--iterations "$iterations"); else run_args+=(--seconds "$seconds"); fi

echo "== fuzz (ASan + UBSan), seed $seed"
"$cc" "${common[@]}" "${asan[@]}" -o "$build/fuzz" "$here/fuzz.c" "${sources[@]}"
"$build/fuzz" "${run_args[@]}"

if [ "$tsan" = 1 ]; then
  echo "== fuzz (TSan, 2 threads), seed $seed"
  "$cc" "${common[@]}" -fsanitize=thread -o "$build/fuzz-tsan" "$here/fuzz.c" "${sources[@]}"
  if [ -n "$iterations" ]; then
    t_args=(--iterations "$(( (iterations + 3) / 4 ))")
  else
    t=$(( seconds / 4 )); [ "$t" -ge 1 ] || t=1; [ "$t" -le 30 ] || t=30
    t_args=(--seconds "$t")
  fi
  "$build/fuzz-tsan" --corpus "$corpus" --seed "$((seed + 1))" --threads 2 "${t_args[@]}"
fi
echo "== run.sh: all passed"
