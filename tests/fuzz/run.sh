#!/bin/sh
# Build and run the libFuzzer targets (tests/fuzz/fuzz_*.c).
#
#   run.sh build SRCDIR BUILDDIR [SECONDS]   build every target
#   run.sh run   SRCDIR BUILDDIR [SECONDS]   build, replay the kept crashers,
#                                            then fuzz each target SECONDS (30)
#
# BUILDDIR is a configured build tree (it provides config.h). Every target
# is linked with the project's library sources (common/, tss/, store/ and
# agent/ without the programs' main files), compiled by clang with
# -fsanitize=fuzzer,address,undefined. Each target fuzzes over its seed
# corpus tests/fuzz/corpus/<target>/ (read-only; new inputs go to
# BUILDDIR/fuzz/corpus/<target>/); a crash, leak or timeout is written as
# tests/fuzz/corpus/<target>/crash-* (or leak-*, timeout-*) so it is kept
# as a regression input and replayed by every later run.
#
# Needs clang and libclang-rt-14-dev (Debian). Environment: FUZZ_CC
# (default clang), FUZZ_MAX_LEN (default 65536), FUZZ_TIMEOUT (per input,
# default 10 s).
set -eu

usage() {
	echo "usage: $0 build|run SRCDIR BUILDDIR [SECONDS]" >&2
	exit 2
}
[ $# -ge 3 ] || usage
mode=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
secs=${4:-30}
[ -n "$secs" ] || secs=30
case $mode in build | run) ;; *) usage ;; esac

CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "$0: $CC not found: apt-get install clang libclang-rt-14-dev" >&2
	exit 1
fi
[ -f "$build/config.h" ] || { echo "$0: $build/config.h missing: run configure first" >&2; exit 1; }

PKGS="tss2-esys tss2-sys tss2-mu tss2-rc tss2-tctildr libcrypto json-c"
DEP_CFLAGS=$(pkg-config --cflags $PKGS)
DEP_LIBS=$(pkg-config --libs $PKGS)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer $SAN -I$build -I$src $DEP_CFLAGS \
	-DTPMID_VERSION=\"fuzz\" -DPKCS11_MODULE_PATH=\"/nonexistent\" \
	-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"

out=$build/fuzz
mkdir -p "$out/obj"

# Library sources: everything but the files that hold a main().
lib_sources() {
	for f in "$src"/common/*.c "$src"/tss/*.c "$src"/store/*.c "$src"/agent/*/*.c; do
		case ${f#"$src"/} in
		agent/daemon/main.c | agent/cli/*) continue ;;
		esac
		echo "$f"
	done
}

build_all() {
	objs=""
	for f in $(lib_sources); do
		rel=${f#"$src"/}
		o=$out/obj/$(echo "$rel" | tr '/' '_' | sed 's/\.c$/.o/')
		if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ "$build/config.h" -nt "$o" ]; then
			echo "  CC(fuzz) $rel"
			# shellcheck disable=SC2086
			$CC $CFLAGS -fsanitize=fuzzer-no-link -c "$f" -o "$o"
		fi
		objs="$objs $o"
	done
	targets=""
	for t in "$src"/tests/fuzz/fuzz_*.c; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .c)
		echo "  LD(fuzz) $name"
		# shellcheck disable=SC2086
		$CC $CFLAGS -fsanitize=fuzzer "$t" $objs $DEP_LIBS -o "$out/$name"
		targets="$targets $name"
	done
	[ -n "$targets" ] || { echo "$0: no tests/fuzz/fuzz_*.c targets" >&2; exit 1; }
	echo "fuzz targets in $out:$targets"
}

run_all() {
	rc=0
	for t in "$src"/tests/fuzz/fuzz_*.c; do
		name=$(basename "$t" .c)
		bin=$out/$name
		seed=$src/tests/fuzz/corpus/$name
		work=$out/corpus/$name
		mkdir -p "$seed" "$work"
		opts="-timeout=${FUZZ_TIMEOUT:-10} -max_len=${FUZZ_MAX_LEN:-65536} -rss_limit_mb=2048"

		# Regression: every kept crasher must now pass.
		kept=$(find "$seed" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
			-o -name 'timeout-*' -o -name 'oom-*' \) | sort)
		if [ -n "$kept" ]; then
			echo "== $name: replaying $(echo "$kept" | wc -l) kept input(s)"
			# shellcheck disable=SC2086
			if ! "$bin" $opts $kept >"$out/$name.replay.log" 2>&1; then
				echo "FAIL: $name: a kept regression input fails (see $out/$name.replay.log)" >&2
				tail -n 30 "$out/$name.replay.log" >&2
				rc=1
				continue
			fi
		fi

		echo "== $name: fuzzing for ${secs}s"
		# New corpus entries go to $work (first dir); findings to $seed.
		# shellcheck disable=SC2086
		if ! "$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="$seed/" "$work" "$seed" >"$out/$name.log" 2>&1; then
			echo "FAIL: $name: finding kept in $seed (log: $out/$name.log)" >&2
			tail -n 40 "$out/$name.log" >&2
			rc=1
			continue
		fi
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/$name.log" |
			sed "s/^/   $name /" || true
		echo "PASS: $name"
	done
	return $rc
}

build_all
if [ "$mode" = run ]; then
	run_all
fi
