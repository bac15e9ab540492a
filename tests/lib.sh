# shellcheck shell=bash
# tests/lib.sh: shared harness for the integration tests (sourced).
#
# Every test gets its own temp dir, its own swtpm on a free loopback port
# with its own state, and its own agent when it needs one. Everything started
# here is recorded by PID and stopped on exit, and each test ends by checking
# that no transient object is left in its TPM. That check is also enforced:
# a test about to pass with one of its swtpms still running has the check
# run for it on exit (after everything else it started was stopped), and
# fails if an object is left. A swtpm the test stopped itself is not checked.
#
# Helpers keep their variables local: the only globals they set are the
# documented ones (T, SWTPM_*, AGENT_PID, the *_TCTI exports).
#
# Provided: $T (temp dir), start_swtpm, stop_swtpm, restart_swtpm,
# start_tabrmd, start_tpmproxy, proxy_ctl,
# start_agent, stop_agent, agent_status, check_no_transient,
# transient_handles, transient_count, transient_objects, tpm_object_attrs,
# tpm_object_pem, same_pubkey, set_da_params, da_counter, asan_preload
# (sets ASAN_LIB, ASAN_PRELOAD), wait_log, pass, fail, expect_status,
# run_ok, free_port, PEER_ENV.

set -eu

: "${TPMID:?run through make check (TPMID is the path to the tpmid binary)}"
: "${TPMID_AGENT:=$(dirname "$TPMID")/tpmid-agent}"
TEST_NAME=$(basename "$0" .sh)

T=$(mktemp -d "${TMPDIR:-/tmp}/tpmid-$TEST_NAME.XXXXXX")
chmod 700 "$T"
_pids=""
# "PID:PORT" of every swtpm of this test that is running and not stopped
# on purpose: the exit check asks each of them for leftover objects.
_swtpms=""

export TPMID_STORE="$T/store"
export XDG_RUNTIME_DIR="$T/run"
# The default socket under $XDG_RUNTIME_DIR, not exported: a socket named
# by TPMID_SOCKET must answer (no fallback to the TPM), and tests rely on
# the fallback of the default one.
TPMID_SOCKET="$T/run/tpmid/agent.sock"
export HOME="$T/home"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
unset SSH_AUTH_SOCK TPMID_TCTI
# Prefix for commands run as another uid: that user does not have this
# test's TPMID_STORE/TPMID_TCTI (start_swtpm exports the latter), and the
# CLI refuses a named store or TPM that is not the agent's.
PEER_ENV=(env -u TPMID_STORE -u TPMID_TCTI)

log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }
pass() { printf 'PASS: %s: %s\n' "$TEST_NAME" "$*"; }
fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

# _stop_pids PID...: SIGTERM, up to 5 s each to exit, then SIGKILL.
_stop_pids() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null
	done
	for p in "$@"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	return 0
}

# _exit_check_tpms: the no-leaked-transient-object check for a test that is
# about to pass, on every swtpm it still runs. Prints why and returns 1 if a
# TPM holds an object, cannot be asked, or died without stop_swtpm.
_exit_check_tpms() {
	local e pid port tcti out handles bad=0
	for e in $_swtpms; do
		pid=${e%%:*}
		port=${e#*:}
		tcti="swtpm:host=127.0.0.1,port=$port"
		if ! kill -0 "$pid" 2>/dev/null; then
			printf 'FAIL: %s: at exit: swtpm (pid %s, port %s) exited without stop_swtpm; ' \
				"$TEST_NAME" "$pid" "$port" >&2
			printf 'its transient objects could not be checked\n' >&2
			bad=1
			continue
		fi
		if ! out=$(TPM2TOOLS_TCTI="$tcti" timeout 30 tpm2_getcap handles-transient 2>&1); then
			printf 'FAIL: %s: at exit: cannot list the transient objects of %s: %s\n' \
				"$TEST_NAME" "$tcti" "$out" >&2
			bad=1
			continue
		fi
		handles=$(printf '%s\n' "$out" | sed -n 's/^- *\(0x[0-9a-fA-F]*\) *$/\1/p' | tr '\n' ' ')
		if [ -n "$handles" ]; then
			printf 'FAIL: %s: at exit: transient object(s) left in the TPM at %s: %s' \
				"$TEST_NAME" "$tcti" "$handles" >&2
			printf '(every process the test started was stopped first; a test must leave its TPM empty)\n' >&2
			bad=1
		fi
	done
	return "$bad"
}

_cleanup() {
	local rc=$? p f tpm_pids="" other_pids=""
	set +e
	for p in $_pids; do
		case " $_swtpms " in
		*" $p:"*) tpm_pids="$tpm_pids $p" ;;
		*) other_pids="$other_pids $p" ;;
		esac
	done
	# Everything but the TPMs first: an agent still running flushes what it
	# loaded on SIGTERM, and only what is left after that is a leak.
	# shellcheck disable=SC2086
	_stop_pids $other_pids
	if [ "$rc" -eq 0 ] && ! _exit_check_tpms; then
		rc=1
	fi
	# shellcheck disable=SC2086
	_stop_pids $tpm_pids
	if [ "$rc" -ne 0 ] && [ -d "$T" ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 40 lines) ---" >&2
			tail -n 40 "$f" >&2
		done
	fi
	if [ -z "${KEEP_TEMP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		# A missing peer is a broken setup, not a pass: fail unless asked.
		if [ -n "${TPMID_ALLOW_SKIP:-}" ]; then
			echo "SKIP: $TEST_NAME: $c not installed" >&2
			exit 77
		fi
		fail "$c not installed (see README: .ci/run installs it)"
	done
}

_track() { _pids="$_pids $1"; }
_untrack() {
	local p n="" e s=""
	for p in $_pids; do [ "$p" = "$1" ] || n="$n $p"; done
	_pids=$n
	for e in $_swtpms; do [ "${e%%:*}" = "$1" ] || s="$s $e"; done
	_swtpms=$s
}

# free_port [N]: a TCP port p on 127.0.0.1 such that nobody listens on p
# .. p+N-1 (N defaults to 2: swtpm's data and control ports), taken below
# the kernel's ephemeral range so that no outgoing connection (which binds
# an ephemeral source port) can hold it when we bind.
free_port() {
	local lo hi p k n=${1:-2} busy
	lo=10000
	hi=$(awk '{print $1 - 4}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32760)
	[ "$hi" -gt $((lo + 1000)) ] || hi=32760
	for _ in $(seq 200); do
		p=$(( (RANDOM << 15 | RANDOM) % (hi - lo) + lo ))
		busy=0
		for k in $(seq 0 $((n - 1))); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$((p + k))") 2>/dev/null; then
				busy=1
				break
			fi
		done
		if [ "$busy" = 0 ]; then
			echo "$p"
			return 0
		fi
	done
	fail "no free port found"
}

# start_swtpm [--trace] [NAME]: start a swtpm for this test; sets
# SWTPM_PORT, SWTPM_PID, and exports TPMID_TCTI/TPM2TOOLS_TCTI/
# TPM2OPENSSL_TCTI. --trace: swtpm logs every command and response to
# SWTPM_TRACE_FILE, for tpm_rc_count.
start_swtpm() {
	local name
	need swtpm tpm2_getcap timeout
	SWTPM_TRACE_FILE=""
	if [ "${1:-}" = "--trace" ]; then
		shift
		SWTPM_TRACE_FILE="$T/${1:-tpm}.trace"
	fi
	name=${1:-tpm}
	SWTPM_STATE="$T/$name"
	mkdir -p "$SWTPM_STATE"
	for _ in 1 2 3 4 5; do
		SWTPM_PORT=$(free_port)
		if _swtpm_launch; then
			export TPMID_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
			export TPM2TOOLS_TCTI="$TPMID_TCTI" TPM2OPENSSL_TCTI="$TPMID_TCTI"
			# tests/integration/rm-tabrmd.sh runs tests through a
			# resource manager.
			if [ "${TPMID_TEST_RM:-}" = tabrmd ]; then
				start_tabrmd
			fi
			return 0
		fi
	done
	fail "swtpm did not start"
}

_swtpm_launch() {
	swtpm socket --tpm2 \
		--server "type=tcp,port=$SWTPM_PORT,bindaddr=127.0.0.1" \
		--ctrl "type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1" \
		--tpmstate "dir=$SWTPM_STATE" \
		--flags not-need-init,startup-clear \
		${SWTPM_TRACE_FILE:+--log "file=$SWTPM_TRACE_FILE,level=20"} \
		>>"$T/swtpm.log" 2>&1 &
	SWTPM_PID=$!
	_track "$SWTPM_PID"
	_swtpms="$_swtpms $SWTPM_PID:$SWTPM_PORT"
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SWTPM_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$SWTPM_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$SWTPM_PID" 2>/dev/null || true
	_untrack "$SWTPM_PID"
	return 1
}

# stop_swtpm: stop the swtpm named by SWTPM_PID on purpose (it is then not
# checked for leftover objects on exit).
stop_swtpm() {
	kill "$SWTPM_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$SWTPM_PID" 2>/dev/null || break; sleep 0.05; done
	_untrack "$SWTPM_PID"
}

# restart_swtpm: same port, same state (a TPM reset as clients see it).
restart_swtpm() {
	stop_swtpm
	for _ in $(seq 40); do
		_swtpm_launch && return 0
		sleep 0.25
	done
	fail "swtpm did not restart on port $SWTPM_PORT"
}

# start_tabrmd: put tpm2-abrmd between this test's programs and its swtpm
# (start_swtpm first), on a private D-Bus session bus. Like the kernel's
# /dev/tpmrm0 it swaps every client's objects out between commands and
# flushes a client's objects when it disconnects. TPMID_TCTI then names
# it; tpm2-tools (TPM2TOOLS_TCTI, the harness's checks) still talk to swtpm
# directly. Sets TABRMD_PID.
start_tabrmd() {
	local name="com.intel.tss2.Tabrmd.t$$_$RANDOM" tcti bus=$T/bus
	need tpm2-abrmd dbus-daemon
	# One bus per test; a second TPM gets a second name on it.
	if [ ! -S "$bus" ]; then
		dbus-daemon --session --nofork --nopidfile --address="unix:path=$bus" \
			>>"$T/dbus.log" 2>&1 &
		_track $!
		for _ in $(seq 100); do [ -S "$bus" ] && break; sleep 0.05; done
		[ -S "$bus" ] || fail "dbus-daemon did not start: $(tail -n 5 "$T/dbus.log")"
	fi
	export DBUS_SESSION_BUS_ADDRESS="unix:path=$bus"
	tpm2-abrmd --session --allow-root --dbus-name="$name" \
		--tcti="swtpm:host=127.0.0.1,port=$SWTPM_PORT" >>"$T/tabrmd.log" 2>&1 &
	TABRMD_PID=$!
	_track "$TABRMD_PID"
	tcti="tabrmd:bus_name=$name,bus_type=session"
	for _ in $(seq 100); do
		if TPM2TOOLS_TCTI="$tcti" tpm2_getcap properties-fixed >/dev/null 2>&1; then
			export TPMID_TCTI="$tcti"
			return 0
		fi
		kill -0 "$TABRMD_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "tpm2-abrmd did not start: $(tail -n 5 "$T/tabrmd.log")"
}

# start_tpmproxy: put tests/tpmproxy between this test's programs and its
# swtpm (start_swtpm first). TPMID_TCTI then names the proxy; tpm2-tools
# (TPM2TOOLS_TCTI, the harness's own checks) still talk to swtpm directly,
# so they are neither counted nor faulted. Sets PROXY_PORT, PROXY_PID,
# PROXY_CONTROL; the proxy logs every command to $T/tpmproxy.log.
start_tpmproxy() {
	local i
	need python3
	PROXY_PORT=$(free_port 3)
	PROXY_CONTROL=$((PROXY_PORT + 2))
	python3 "$top_srcdir/tests/tpmproxy" --listen "$PROXY_PORT" --tpm "$SWTPM_PORT" \
		--control "$PROXY_CONTROL" --log "$T/tpmproxy.log" >>"$T/tpmproxy.err" 2>&1 &
	PROXY_PID=$!
	_track "$PROXY_PID"
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_CONTROL") 2>/dev/null; then
			export TPMID_TCTI="swtpm:host=127.0.0.1,port=$PROXY_PORT"
			return 0
		fi
		kill -0 "$PROXY_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "tpmproxy did not start: $(tail -n 5 "$T/tpmproxy.err" 2>/dev/null)"
}

# proxy_ctl COMMAND...: one command to the proxy's control port (see
# tests/tpmproxy); prints its answer, fails the test on "error: ...".
proxy_ctl() {
	local answer
	exec 7<>"/dev/tcp/127.0.0.1/$PROXY_CONTROL" || fail "tpmproxy control port closed"
	printf '%s\n' "$*" >&7
	IFS= read -r answer <&7 || answer="error: no answer"
	exec 7>&-
	case $answer in
	error:*) fail "tpmproxy: $*: $answer" ;;
	esac
	printf '%s\n' "$answer"
}

# proxy_count CODE: how many CODE commands (hex, as "0x15d") the proxy saw
# since its last reset.
proxy_count() {
	proxy_ctl count | python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

# tpm_rc_count RC: how many responses of this test's swtpm (started with
# --trace) so far carried the response code RC, in hex (902:
# TPM_RC_OBJECT_MEMORY, 0: success). Reads swtpm's level-20 log, where each
# response is "SWTPM_IO_Write: length N" and then its bytes, 16 a line:
# tag (2), size (4), response code (4).
tpm_rc_count() {
	local want
	[ -n "${SWTPM_TRACE_FILE:-}" ] || fail "tpm_rc_count: the swtpm was not started with --trace"
	want=$(printf '%08X' "0x$1")
	awk -v want="$want" '
		/SWTPM_IO_Write: length/ { n++; getline; if (toupper($7 $8 $9 $10) == want) c++ }
		END { if (n == 0) exit 1; print c + 0 }' "$SWTPM_TRACE_FILE" ||
		fail "tpm_rc_count: no TPM response in $SWTPM_TRACE_FILE (did the swtpm log format change?)"
}

# Dictionary-attack parameters for PIN tests: N tries, short recovery.
set_da_params() {
	need tpm2_dictionarylockout
	tpm2_dictionarylockout --setup-parameters --max-tries="${1:-5}" \
		--recovery-time="${2:-1}" --lockout-recovery-time="${3:-1}" >/dev/null
}

# da_counter: the TPM's dictionary-attack counter (failed authorizations
# not yet forgotten), as a number; the test fails if it cannot be read.
da_counter() {
	local v
	v=$(tpm2_getcap properties-variable | sed -n 's/^TPM2_PT_LOCKOUT_COUNTER: *//p')
	[ -n "$v" ] || fail "no TPM2_PT_LOCKOUT_COUNTER from tpm2_getcap"
	echo $((v))
}

# asan_preload MODULE: a sanitizer build of a shared object (the PKCS#11
# module) needs the ASan runtime loaded first in a program that was not
# built with it. Sets ASAN_LIB (the runtime's path, or empty) and
# ASAN_PRELOAD (environment assignments for `env`: empty, or the preload
# without the leak check, which the host programs' own leaks would fail).
asan_preload() {
	ASAN_LIB=
	ASAN_PRELOAD=()
	if readelf -d "$1" | grep -q 'NEEDED.*libasan'; then
		need gcc
		ASAN_LIB=$(gcc -print-file-name=libasan.so)
		ASAN_PRELOAD=(LD_PRELOAD="$ASAN_LIB" ASAN_OPTIONS=detect_leaks=0)
	fi
}

# wait_log PID FILE PATTERN: wait up to 10 s for a line of FILE matching
# PATTERN (grep's basic regular expression) while PID runs. 0 when the line
# is there (also if PID wrote it and exited), 1 when PID exited without it
# or the time ran out (`kill -0 PID` tells which).
wait_log() {
	for _ in $(seq 200); do
		grep -q -- "$3" "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	grep -q -- "$3" "$2" 2>/dev/null
}

# transient_handles: the transient handles loaded in this test's TPM, one a
# line. The test fails if the TPM cannot be asked (never an empty answer).
# Use as h=$(transient_handles) (an assignment, so that a failure stops the
# test under set -e; not inside a for list or a condition).
transient_handles() {
	local out
	need tpm2_getcap
	out=$(tpm2_getcap handles-transient 2>&1) ||
		fail "tpm2_getcap handles-transient failed (${TPM2TOOLS_TCTI:-no TCTI}): $out"
	printf '%s\n' "$out" | sed -n 's/^- *\(0x[0-9a-fA-F]*\) *$/\1/p'
}

# transient_count: how many transient objects this test's TPM holds.
transient_count() {
	local h
	h=$(transient_handles) || exit 1
	if [ -z "$h" ]; then echo 0; else printf '%s\n' "$h" | wc -l; fi
}

# check_no_transient: fail if anything is left loaded in this test's TPM.
# (Also run on exit for every swtpm still running; see the top.)
check_no_transient() {
	local h
	h=$(transient_handles) || exit 1
	[ -z "$h" ] ||
		fail "$(printf '%s\n' "$h" | wc -l) transient object(s) left in the TPM: ${h//$'\n'/ }"
}

# tpm_object_attrs HANDLE: a loaded object's attributes as tpm2_readpublic
# spells them ("fixedtpm|...|restricted|decrypt", "...|sign").
tpm_object_attrs() {
	local out
	need tpm2_readpublic
	out=$(tpm2_readpublic -c "$1" 2>&1) || fail "tpm2_readpublic -c $1: $out"
	printf '%s\n' "$out" | awk '/^attributes:/ { a = 1; next } a && $1 == "value:" { print $2; exit }'
}

# tpm_object_pem HANDLE FILE: a loaded object's public key, as PEM, to FILE.
tpm_object_pem() {
	local out
	need tpm2_readpublic
	out=$(tpm2_readpublic -c "$1" -f pem -o "$2" 2>&1) || fail "tpm2_readpublic -c $1 -f pem: $out"
}

# same_pubkey PEM1 PEM2: true if both files hold the same public key (fails
# the test if either is not a public key).
same_pubkey() {
	local a b
	need openssl od
	a=$(openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
	[ -n "$a" ] || fail "$1 does not hold a public key"
	b=$(openssl pkey -pubin -in "$2" -outform DER 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
	[ -n "$b" ] || fail "$2 does not hold a public key"
	[ "$a" = "$b" ]
}

# transient_objects [PEM...]: every transient object in this test's TPM as
# "HANDLE LABEL", one a line: LABEL is the name (basename without .pem) of
# the PEM file holding its public key, else "srk" for a restricted
# decryption key (a storage parent: the SRK), else "?". Use as an
# assignment, like transient_handles.
transient_objects() {
	local hs h f label attrs
	hs=$(transient_handles) || exit 1
	for h in $hs; do
		tpm_object_pem "$h" "$T/.object.pem" || exit 1
		label="?"
		for f in "$@"; do
			if same_pubkey "$T/.object.pem" "$f"; then
				label=$(basename "$f" .pem)
				break
			fi
		done
		if [ "$label" = "?" ]; then
			attrs=$(tpm_object_attrs "$h") || exit 1
			case "|$attrs|" in *"|sign|"*) ;; *"|restricted|"*)
				case "|$attrs|" in *"|decrypt|"*) label=srk ;; esac ;;
			esac
		fi
		echo "$h $label"
	done
}

# agent_status FIELD: a number from `tpmid status` ("tpm resets",
# "loaded keys", "signatures", ...).
agent_status() {
	local out v
	out=$("$TPMID" status 2>&1) || fail "tpmid status: $out"
	v=$(printf '%s\n' "$out" | sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p")
	[ -n "$v" ] || fail "tpmid status shows no '$1': $out"
	echo "$v"
}

# start_agent [ARGS...]: start tpmid-agent in the foreground (background job),
# wait until its socket answers. Sets AGENT_PID.
start_agent() {
	"$TPMID_AGENT" --foreground --socket "$TPMID_SOCKET" "$@" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	_track "$AGENT_PID"
	for _ in $(seq 200); do
		[ -S "$TPMID_SOCKET" ] && "$TPMID" status >/dev/null 2>&1 && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || fail "tpmid-agent exited at start: $(tail -n 5 "$T/agent.log")"
		sleep 0.05
	done
	fail "tpmid-agent did not become ready"
}

# stop_agent: SIGTERM, and require exit status 0 (under ASan a leak found at
# exit makes it nonzero, so leaks fail the test).
stop_agent() {
	local rc
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$AGENT_PID" 2>/dev/null && fail "tpmid-agent did not exit on SIGTERM"
	_untrack "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null && rc=0 || rc=$?
	# 127: not our child (started elsewhere); nothing to check then.
	[ "$rc" -eq 0 ] || [ "$rc" -eq 127 ] ||
		fail "tpmid-agent exited with status $rc after SIGTERM: $(tail -n 20 "$T/agent.log")"
}

# expect_status N CMD...: run CMD, require exit status N; stderr to $T/err.
expect_status() {
	local want=$1 got
	shift
	"$@" >"$T/out" 2>"$T/err" && got=0 || got=$?
	[ "$got" -eq "$want" ] || fail "expected exit $want, got $got from: $* (stderr: $(cat "$T/err"))"
}

# run_ok CMD...: run, fail the test with its stderr if it fails.
run_ok() {
	"$@" 2>"$T/err" || fail "failed: $* (stderr: $(cat "$T/err"))"
}
