#!/bin/sh
# Run the libFuzzer targets (tests/fuzz/fuzz_*.c) that `make` built in a
# tree configured with CC=clang --enable-fuzzing (Makefile.am "fuzzing";
# `make fuzz-run FUZZ_SECONDS=N` calls this).
#
#   run.sh SRCDIR BUILDDIR [SECONDS]
#
# Every target first replays the crashers kept in tests/fuzz/corpus/<target>/
# (crash-*, leak-*, timeout-*, oom-*: each must pass now), then fuzzes for
# SECONDS (default 30) over that seed corpus (read-only; new inputs go to
# BUILDDIR/fuzz/corpus/<target>/). A crash, leak or timeout is written to
# tests/fuzz/corpus/<target>/ so it is kept as a regression input.
# Environment: FUZZ_MAX_LEN (default 65536), FUZZ_TIMEOUT (per input,
# default 10 s), FUZZ_SECONDS_<target> (e.g. FUZZ_SECONDS_fuzz_x509=5: that
# target's time instead of SECONDS).
set -eu

[ $# -ge 2 ] || { echo "usage: $0 SRCDIR BUILDDIR [SECONDS]" >&2; exit 2; }
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
secs=${3:-30}
[ -n "$secs" ] || secs=30
out=$build/fuzz
mkdir -p "$out"

run_all() {
	rc=0
	for t in "$src"/tests/fuzz/fuzz_*.c; do
		name=$(basename "$t" .c)
		bin=$build/tests/fuzz/$name
		[ -x "$bin" ] || { echo "FAIL: $name: $bin not built (make with --enable-fuzzing)" >&2; rc=1; continue; }
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

		tsecs=$secs
		eval "tsecs=\${FUZZ_SECONDS_$name:-\$tsecs}"
		echo "== $name: fuzzing for ${tsecs}s"
		# New corpus entries go to $work (first dir); findings to $seed.
		# shellcheck disable=SC2086
		if ! "$bin" $opts -max_total_time="$tsecs" -print_final_stats=1 \
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

run_all
