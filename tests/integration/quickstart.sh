#!/bin/bash
# ./quickstart as a new user meets it, run against this build tree
# (--build-dir: no second build) with its state in the test's temp dir:
#  - --help prints the usage and installs nothing, an unknown option is a
#    usage error (apt-get and sudo are fakes that record being called);
#  - the job is quiet (no build chatter), ends with what to do next, and
#    leaves nothing running (by PID); the build tree is not bootstrapped;
#  - --keep leaves swtpm and the agent running: the export lines it prints
#    work (tpmid list, ssh-add -L), stay the same from run to run, and the
#    stop commands it prints (kill, --stop) stop both; a later run stops
#    what --keep left;
#  - recovery: a swtpm it did not start holding the state's lock is named
#    with the command to stop it; a deleted swtpm state, and a TPM that has
#    another storage root key than the store's identities, move the store
#    aside and make a new identity; a swtpm that cannot start shows its log.
: "${top_srcdir:?run through make check}" "${top_builddir:?run through make check}"
. "$top_srcdir/tests/lib.sh"
need swtpm openssl ssh-add

QS=$(cd "$top_srcdir" && pwd -P)/quickstart
STATE=$T/qs
export TPMID_QUICKSTART_DIR=$STATE TPMID_BUILD_DIR=$top_builddir
# quickstart runs make in this build tree: make check's flags (its jobserver,
# TESTS=...) are not for that make.
unset MAKEFLAGS MFLAGS MAKELEVEL

# apt-get and sudo that record being called, and fail.
mkdir -p "$T/fakebin"
for c in apt-get sudo; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/installs"\nexit 1\n' "$c" "$T" >"$T/fakebin/$c"
	chmod +x "$T/fakebin/$c"
done
export PATH="$T/fakebin:$PATH"
no_installs() {
	[ ! -e "$T/installs" ] || fail "$1 ran the package manager: $(cat "$T/installs")"
}

# qs NAME ARGS...: run ./quickstart ARGS; its output (stdout and stderr) in
# $T/qs-NAME.log (shown if the test fails); sets QS_RC.
qs() {
	local name=$1
	shift
	"$QS" "$@" >"$T/qs-$name.log" 2>&1 </dev/null && QS_RC=0 || QS_RC=$?
	log "./quickstart $*: exit $QS_RC"
}
qs_ok() {
	qs "$@"
	[ "$QS_RC" = 0 ] || fail "./quickstart ${*:2} exited $QS_RC: $(tail -n 30 "$T/qs-$1.log")"
}
has() { grep -qF -- "$2" "$T/qs-$1.log" || fail "./quickstart ($1) did not say '$2': $(cat "$T/qs-$1.log")"; }

# running PID: the process exists and is not a zombie.
running() {
	local s
	s=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}
# gone PID...: each exits within 15 s (an agent flushes its keys on SIGTERM).
gone() {
	local p
	for p in "$@"; do
		for _ in $(seq 150); do running "$p" || continue 2; sleep 0.1; done
		fail "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) still runs"
	done
}
# pids NAME: the PIDs the run said it started, swtpm's first.
pids() {
	sed -n 's/.*started swtpm (pid \([0-9]*\)).*/\1/p; s/.*started tpmid-agent (pid \([0-9]*\)).*/\1/p' \
		"$T/qs-$1.log"
}
# nothing_runs: no process of any kind has the quickstart state in its
# command line.
nothing_runs() {
	local f p left=""
	while read -r f; do
		p=$(echo "$f" | cut -d/ -f3)
		if [ "$p" = "$$" ] || ! running "$p"; then continue; fi
		case $(tr '\0' ' ' <"/proc/$p/cmdline") in
		*swtpm* | *tpmid-agent*) left="$left $p" ;;
		esac
	done < <(grep -lsaF -- "$STATE/" /proc/[0-9]*/cmdline 2>/dev/null || true)
	[ -z "$left" ] || fail "left running:$left"
}

# --- usage ------------------------------------------------------------------
for h in --help -h; do
	qs help "$h"
	[ "$QS_RC" = 0 ] || fail "./quickstart $h exited $QS_RC"
	for w in "Usage" "--keep" "--stop" "--no-install" "--build-dir" "TPMID_QUICKSTART_DIR"; do
		has help "$w"
	done
done
qs bad --frobnicate
[ "$QS_RC" = 2 ] || fail "./quickstart --frobnicate exited $QS_RC, not 2"
has bad "unknown option '--frobnicate'"
qs bad2 --keep --stop
[ "$QS_RC" = 2 ] || fail "./quickstart --keep --stop exited $QS_RC, not 2"
no_installs "--help"
[ ! -e "$STATE" ] || fail "--help or a usage error made $STATE"
pass "--help and -h print the usage, an unknown option exits 2, nothing installed"

# --- the job ------------------------------------------------------------------
conf_before=$(stat -c %Y "$top_srcdir/configure")
qs_ok run --no-install --swtpm
no_installs "--no-install"
if grep -nE '^(ar|libtoolize|autoreconf|aclocal|automake|configure|make(\[[0-9]+\])?):|checking |Entering directory|CC |CCLD ' \
	"$T/qs-run.log"; then
	fail "build output in quickstart's output"
fi
has run "Verified OK"
has run "ecdsa-sha2-nistp256 "
has run "Next: this run stopped what it started"
has run "$QS --keep"
has run "add it to PATH"
[ "$(stat -c %Y "$top_srcdir/configure")" = "$conf_before" ] ||
	fail "quickstart ran ./bootstrap on a configured build tree"
mapfile -t P < <(pids run)
[ ${#P[@]} = 2 ] || fail "the run did not name the PIDs of its swtpm and agent: $(cat "$T/qs-run.log")"
gone "${P[@]}"
if [ -e "$STATE/swtpm.pid" ] || [ -e "$STATE/agent.pid" ]; then
	fail "PID files left after a run without --keep"
fi
nothing_runs
pass "quiet run, next step said, swtpm and agent (pids ${P[*]}) stopped"

# --- --keep -----------------------------------------------------------------
# Without --no-install when the build packages are installed already: then
# install-deps.sh must not call apt-get at all.
args=(--no-install)
mapfile -t build_pkgs < <("$top_srcdir/contrib/install-deps.sh" --build --list)
if dpkg-query -W -f='${Status}\n' "${build_pkgs[@]}" 2>/dev/null |
	grep -v -q ' installed$'; then
	log "some --build package is not installed (per dpkg): install step not tested"
else
	args=()
fi
qs_ok keep "${args[@]}" --swtpm --keep
no_installs "a run with every package installed"
mapfile -t P < <(pids keep)
[ ${#P[@]} = 2 ] || fail "--keep did not name the PIDs: $(cat "$T/qs-keep.log")"
for p in "${P[@]}"; do _track "$p"; done
for p in "${P[@]}"; do running "$p" || fail "--keep: pid $p is not running"; done
has keep "using the identity \"quickstart\" an earlier run made"
grep '^export ' "$T/qs-keep.log" >"$T/exports"
for v in TPMID_TCTI TPMID_STORE TPMID_SOCKET SSH_AUTH_SOCK PATH; do
	grep -q "^export $v=" "$T/exports" || fail "--keep printed no export of $v: $(cat "$T/qs-keep.log")"
done
cmp -s "$T/exports" "$STATE/env" || fail "STATE/env differs from the printed lines"
(
	unset TPMID_TCTI TPMID_SOCKET SSH_AUTH_SOCK
	# shellcheck disable=SC1091
	. "$T/exports"
	[ "$(command -v tpmid)" = "$top_builddir/tpmid" ] || fail "PATH finds $(command -v tpmid)"
	tpmid list >"$T/list" 2>&1 || fail "tpmid list with the exports: $(cat "$T/list")"
	grep -q '^quickstart ' "$T/list" || fail "tpmid list: $(cat "$T/list")"
	tpmid status >"$T/status" 2>&1 || fail "tpmid status: $(cat "$T/status")"
	grep -q '^agent: *running' "$T/status" || fail "not through the agent: $(cat "$T/status")"
	ssh-add -L >"$T/sshadd" 2>&1 || fail "ssh-add -L with the exports: $(cat "$T/sshadd")"
	grep -q '^ecdsa-sha2-nistp256 .* quickstart$' "$T/sshadd" || fail "ssh-add -L: $(cat "$T/sshadd")"
)
stop=$(sed -n 's/^    \(kill .*\)/\1/p' "$T/qs-keep.log")
[ -n "$stop" ] || fail "--keep printed no kill command: $(cat "$T/qs-keep.log")"
bash -c "$stop" || fail "the printed stop command failed: $stop"
gone "${P[@]}"
for p in "${P[@]}"; do _untrack "$p"; done
nothing_runs
pass "--keep: the exports work (tpmid list, ssh-add -L); '$stop' stops them"

# A second --keep: the same exports; a plain run then stops what it left.
qs_ok keep2 --no-install --swtpm --keep
grep '^export ' "$T/qs-keep2.log" | cmp -s - "$T/exports" ||
	fail "the exports changed from one --keep to the next: $(grep '^export ' "$T/qs-keep2.log")"
mapfile -t P < <(pids keep2)
for p in "${P[@]}"; do _track "$p"; done
qs_ok after --no-install --swtpm
has after "stopped what an earlier run left running: tpmid-agent (pid ${P[1]}), swtpm (pid ${P[0]})"
mapfile -t A < <(pids after)
gone "${P[@]}" "${A[@]}"
for p in "${P[@]}"; do _untrack "$p"; done
nothing_runs
# And --stop stops what --keep left.
qs_ok keep3 --no-install --swtpm --keep
mapfile -t P < <(pids keep3)
for p in "${P[@]}"; do _track "$p"; done
qs_ok stop --stop
has stop "stopped tpmid-agent (pid ${P[1]}), swtpm (pid ${P[0]})"
gone "${P[@]}"
for p in "${P[@]}"; do _untrack "$p"; done
qs_ok stop2 --stop
has stop2 "nothing to stop"
nothing_runs
pass "--keep twice gives the same exports; a later run and --stop stop what it left"

# --- recovery -----------------------------------------------------------------
# A swtpm that quickstart has no record of holds the state's lock.
port=$(free_port)
swtpm socket --tpm2 --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
	--ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
	--tpmstate "dir=$STATE/swtpm" --flags not-need-init,startup-clear >>"$T/swtpm.log" 2>&1 &
holder=$!
_track "$holder"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
qs locked --no-install --swtpm
[ "$QS_RC" = 1 ] || fail "with the state locked by another swtpm: exit $QS_RC"
has locked "pid $holder"
has locked "kill $holder"
running "$holder" || fail "quickstart stopped a swtpm it had not started"
kill "$holder"
wait "$holder" 2>/dev/null || true
_untrack "$holder"
qs_ok unlocked --no-install --swtpm
has unlocked "using the identity \"quickstart\" an earlier run made"
nothing_runs
pass "a swtpm quickstart did not start holding the lock: named with 'kill $holder'"

# The swtpm state was deleted: the identities made in it cannot load.
rm -f "$STATE/swtpm/tpm2-00.permall"
qs_ok lost --no-install --swtpm
has lost "the swtpm state in $STATE/swtpm is gone"
has lost "moved their store aside to $STATE/store.stale-"
has lost "tpmid keygen quickstart"
has lost "Verified OK"
ls "$STATE"/store.stale-*/quickstart.json >/dev/null 2>&1 || fail "the old store was not kept"
nothing_runs
pass "deleted swtpm state: the store moved aside, a new identity made"

# The TPM has another storage root key than the one the store recorded (the
# state of another TPM, as after a TPM clear): found when signing fails.
TPMID_QUICKSTART_DIR=$T/other qs_ok other --no-install --swtpm
cp "$T/other/swtpm/tpm2-00.permall" "$STATE/swtpm/tpm2-00.permall"
qs_ok cleared --no-install --swtpm
has cleared "made under another storage root key than this TPM's"
has cleared "moved the store aside to $STATE/store.stale-"
has cleared "tpmid keygen quickstart"
has cleared "Verified OK"
stale=("$STATE"/store.stale-*)
[ ${#stale[@]} = 2 ] || fail "the second old store was not kept: ${stale[*]}"
nothing_runs
pass "another TPM's storage root key: the store moved aside, a new identity made"

# A damaged swtpm state: swtpm does not start; its log is shown.
head -c 1000 /dev/urandom >"$STATE/swtpm/tpm2-00.permall"
qs broken --no-install --swtpm
[ "$QS_RC" = 1 ] || fail "with a damaged swtpm state: exit $QS_RC"
has broken "swtpm did not start; the end of its log"
has broken "libtpms"
has broken "mv $STATE/swtpm $STATE/swtpm.broken"
if [ -e "$STATE/swtpm.pid" ] || [ -e "$STATE/agent.pid" ]; then
	fail "PID files left after a failed start"
fi
nothing_runs
pass "a swtpm that does not start: its log and what to do"
