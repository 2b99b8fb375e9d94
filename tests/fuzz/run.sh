#!/bin/sh
# run.sh [SECONDS] - build the frame fuzzer with clang (libFuzzer, ASan,
# UBSan) into build-fuzz/ and run it for SECONDS (default 60).
# Needs clang with its runtime (Debian: clang, libclang-rt-14-dev), cmake,
# and the server's build dependencies (scripts/install-deps.sh).
#
# The seed corpus (tests/fuzz/corpus/, made by make_corpus.py) is read-only;
# new inputs go to build-fuzz/corpus/, crashes to build-fuzz/artifacts/.
# Extra arguments after SECONDS are passed to libFuzzer (e.g. -jobs=2).
# Reproduce a crash: build-fuzz/fuzz_frames build-fuzz/artifacts/crash-...
set -eu

seconds=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-fuzz
cc=${CC_FUZZ:-clang}
mkdir -p "$out/corpus" "$out/artifacts"

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
	-I"$root/include" -I"$root/src/common" -I"$root/src/server" -I"$root/src/devices" \
	"$root/tests/fuzz/fuzz_frames.c" -o "$out/fuzz_frames" \
	"$lib/libttalloc_server_core.a" "$lib/libttalloc_devices.a" "$lib/libttalloc_common.a" \
	$(pkg-config --libs libmicrohttpd jansson libdw libsystemd) -ldl -pthread -lm
echo "built $out/fuzz_frames"

echo "fuzzing for $seconds s"
cd "$out"
exec ./fuzz_frames -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$out/artifacts/" -print_final_stats=1 "$@" \
	"$out/corpus" "$root/tests/fuzz/corpus"
