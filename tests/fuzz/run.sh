#!/bin/sh
# run.sh [SECONDS] [TARGET] - build a fuzz target with clang (libFuzzer, ASan,
# UBSan) into build-fuzz/ and run it for SECONDS (default 60).
# TARGET (or the TARGET environment variable) picks it: frames (default,
# fuzz_frames.c: the socket's frame decoder), ring (fuzz_ring.c: the
# consumer of clients' shared-memory rings) or http (fuzz_http.c: HTTP
# requests to the server's HTTP side over loopback TCP).
# Needs clang with its runtime (Debian: clang, libclang-rt-14-dev), cmake,
# and the server's build dependencies (scripts/install-deps.sh).
#
# The seed corpus (tests/fuzz/corpus/ for frames, tests/fuzz/corpus_ring/ for
# ring, made by make_corpus.py) is read-only; new inputs go to
# build-fuzz/corpus/ (frames) or build-fuzz/corpus_ring/, crashes to
# build-fuzz/artifacts/.
# Extra arguments after SECONDS (and TARGET) are passed to libFuzzer (e.g. -jobs=2).
# Reproduce a crash: build-fuzz/fuzz_frames build-fuzz/artifacts/crash-...
# (or build-fuzz/fuzz_ring).
set -eu

seconds=${1:-60}
[ $# -gt 0 ] && shift
target=${TARGET:-frames}
case ${1-} in
frames | ring | http) target=$1; shift ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-fuzz
cc=${CC_FUZZ:-clang}
# Per target (tests/fuzz/fuzz_$target.c): its seed corpus, where new inputs go, the longest input.
case $target in
frames) seeds=corpus corpus=corpus max_len=8192 ;;
ring) seeds=corpus_ring corpus=corpus_ring max_len=4096 ;;
http) seeds=corpus_http corpus=corpus_http max_len=65536 ;;
*) echo "run.sh: unknown target '$target' (frames, ring or http)" >&2; exit 2 ;;
esac
mkdir -p "$out/$corpus" "$out/artifacts"

# The server core exactly as the server links it: the project's own CMake
# builds ttalloc_server_core (and what it depends on) with the sanitizers and
# libFuzzer's coverage instrumentation; only the target is linked here.
echo "building the server core with $cc in $out/cmake"
cmake -S "$root" -B "$out/cmake" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug -DTTALLOC_TESTS=OFF \
	-DCMAKE_C_FLAGS="-O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -Wno-unknown-warning-option" \
	>"$out/cmake.log" || { cat "$out/cmake.log"; exit 1; }
cmake --build "$out/cmake" --target ttalloc_server_core -j"$(nproc)" >>"$out/cmake.log" 2>&1 ||
	{ tail -40 "$out/cmake.log"; exit 1; }
lib=$out/cmake/lib
# shellcheck disable=SC2046
"$cc" -std=c11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-address-of-packed-member \
	-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-I"$root/include" -I"$root/src" -I"$root/tests/fuzz" \
	"$root/tests/fuzz/fuzz_$target.c" -o "$out/fuzz_$target" \
	"$lib/libttalloc_server_core.a" "$lib/libttalloc_model.a" "$lib/libttalloc_devices.a" "$lib/libttalloc_common.a" \
	$(pkg-config --libs libmicrohttpd jansson libdw libsystemd yaml-0.1 gnutls libcrypt) -ldl -pthread -lm
echo "built $out/fuzz_$target"

echo "fuzzing for $seconds s"
cd "$out"
exec "./fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$out/artifacts/" -print_final_stats=1 "$@" \
	"$out/$corpus" "$root/tests/fuzz/$seeds"
