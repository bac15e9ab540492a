#!/bin/bash
# Error paths: a corrupt identity file, a missing TPM, usage errors (exit 2),
# --help on every command (exit 0). And the harness's own: a test that leaves
# a transient object in a TPM it did not stop cannot pass, even without
# calling check_no_transient; helpers do not clobber the caller's variables.
. "$top_srcdir/tests/lib.sh"
start_swtpm

printf 'msg\n' >"$T/msg"
run_ok "$TPMID" keygen good

# A corrupt identity file: list shows the others and names the bad one.
printf '{ "tpmid": { garbage\n' >"$TPMID_STORE/bad.json"
expect_status 1 "$TPMID" list
grep -q '^good ' "$T/out" || fail "list lost the good identity: $(cat "$T/out")"
grep -q '^bad  error: ' "$T/err" || fail "list did not report the bad file: $(cat "$T/err")"
grep -q 'bad.json' "$T/err" || fail "list did not name the bad file: $(cat "$T/err")"
expect_status 1 "$TPMID" list --json
grep -q '"error"' "$T/out" || fail "list --json: $(cat "$T/out")"
grep -q '"good"' "$T/out" || fail "list --json lost good: $(cat "$T/out")"
expect_status 1 "$TPMID" sign bad --in "$T/msg" --force --out "$T/sig"
grep -q "$TPMID_STORE/bad.json" "$T/err" || fail "sign did not name the path: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "error is not one line: $(cat "$T/err")"
run_ok "$TPMID" sign good --in "$T/msg" --force --out "$T/sig"
# A corrupt identity can be deleted.
run_ok "$TPMID" delete bad
run_ok "$TPMID" list >/dev/null

# No such identity.
expect_status 1 "$TPMID" sign nope --in "$T/msg" --force --out "$T/sig"
grep -q "'nope'" "$T/err" || fail "missing identity message: $(cat "$T/err")"
expect_status 1 "$TPMID" sign good --in "$T/nofile" --force --out "$T/sig"
grep -q "$T/nofile" "$T/err" || fail "missing input not named: $(cat "$T/err")"

# Missing TPM: the message names the TCTI; nothing is recorded.
port=$(free_port)
bad_tcti="swtpm:host=127.0.0.1,port=$port"
set +e
TPMID_TCTI=$bad_tcti "$TPMID" keygen x >/dev/null 2>"$T/err"
st=$?
set -e
[ "$st" -eq 1 ] || fail "keygen without TPM: exit $st ($(cat "$T/err"))"
grep -qF "$bad_tcti" "$T/err" || fail "missing TPM message does not name the TCTI: $(cat "$T/err")"
[ ! -e "$TPMID_STORE/x.json" ] || fail "keygen without TPM recorded an identity"
expect_status 1 "$TPMID" --tcti "$bad_tcti" sign good --in "$T/msg" --force --out "$T/sig"
grep -qF "$bad_tcti" "$T/err" || fail "--tcti not named: $(cat "$T/err")"
# list and pubkey need no TPM.
TPMID_TCTI=$bad_tcti run_ok "$TPMID" list >/dev/null
TPMID_TCTI=$bad_tcti run_ok "$TPMID" pubkey good >/dev/null

# Usage errors: exit 2.
expect_status 2 "$TPMID"
expect_status 2 "$TPMID" frobnicate
expect_status 2 "$TPMID" --bogus list
expect_status 2 "$TPMID" list --bogus
grep -q -- "--bogus" "$T/err" || fail "unknown option not named: $(cat "$T/err")"
expect_status 2 "$TPMID" keygen
expect_status 2 "$TPMID" keygen a b
expect_status 2 "$TPMID" keygen a --curve p521
grep -q "p521" "$T/err" || fail "bad curve not named: $(cat "$T/err")"
expect_status 2 "$TPMID" sign good
expect_status 2 "$TPMID" sign good --in
expect_status 2 "$TPMID" pubkey good --format xml
expect_status 2 "$TPMID" --store

# --help and --version.
run_ok "$TPMID" --help >"$T/out"
grep -q "Commands:" "$T/out" || fail "--help output"
run_ok "$TPMID" --version >"$T/out"
grep -q "^tpmid [0-9]" "$T/out" || fail "--version: $(cat "$T/out")"
for c in keygen import list pubkey sign csr cert ssh-cert export delete unlock lock status; do
	expect_status 0 "$TPMID" "$c" --help
	grep -q "usage: tpmid $c" "$T/out" || fail "$c --help: $(cat "$T/out")"
done
run_ok "$TPMID" help sign >"$T/out"
grep -q "usage: tpmid sign" "$T/out" || fail "help sign"

# Global options after the command; --store.
run_ok "$TPMID" list --store "$TPMID_STORE" >"$T/out"
grep -q '^good ' "$T/out" || fail "--store after the command"
mkdir -p "$T/other"
run_ok "$TPMID" --store "$T/other" list >"$T/out"
grep -q '^good ' "$T/out" && fail "--store ignored"

# unlock needs an agent.
printf '1\n' >"$T/pin"
expect_status 1 "$TPMID" unlock good --pin-file "$T/pin"
grep -q "agent" "$T/err" || fail "unlock without agent: $(cat "$T/err")"

check_no_transient
pass "corrupt file, missing TPM, usage errors, --help"

# --- tests/lib.sh itself ------------------------------------------------
# Each case is a small test script run as make check runs one (its own temp
# dir under $T/harness, its own swtpm); we check its exit status and what it
# said.
need tpm2_createprimary
mkdir -p "$T/harness"
harness_case() { # NAME WANT_STATUS, the script's body on stdin
	local name=$1 want=$2 got
	{
		echo '#!/bin/bash'
		echo '. "$top_srcdir/tests/lib.sh"'
		cat
	} >"$T/harness/$name.sh"
	TMPDIR="$T/harness" bash "$T/harness/$name.sh" \
		>"$T/harness/$name.out" 2>"$T/harness/$name.err" && got=0 || got=$?
	[ "$got" -eq "$want" ] ||
		fail "harness case $name exited $got, want $want: $(cat "$T/harness/$name.out" "$T/harness/$name.err")"
}

# Forgot the check and left an object (tpm2_createprimary leaves the primary
# loaded): it said PASS, but the exit check turns that into a failure.
harness_case leak 1 <<'CASE'
start_swtpm
tpm2_createprimary -Q -C o -c "$T/p.ctx"
pass "left an object and did not check"
CASE
grep -q '^PASS: leak: left an object' "$T/harness/leak.out" ||
	fail "harness case leak did not get as far as its pass"
grep -q '^FAIL: leak: at exit: transient object(s) left in the TPM at swtpm:host=127\.0\.0\.1,port=[0-9]*: 0x80000000 ' \
	"$T/harness/leak.err" || fail "harness case leak: $(cat "$T/harness/leak.err")"

# The same, left in a second TPM while the test checked only the first.
harness_case leak2 1 <<'CASE'
start_swtpm a
a_tcti=$TPMID_TCTI
start_swtpm b
tpm2_createprimary -Q -C o -c "$T/p.ctx"
export TPMID_TCTI="$a_tcti" TPM2TOOLS_TCTI="$a_tcti" TPM2OPENSSL_TCTI="$a_tcti"
check_no_transient
pass "checked the other TPM"
CASE
grep -q '^FAIL: leak2: at exit: transient object(s) left' "$T/harness/leak2.err" ||
	fail "harness case leak2: $(cat "$T/harness/leak2.err")"

# A TPM the test stopped on purpose is not checked.
harness_case stopped 0 <<'CASE'
start_swtpm
tpm2_createprimary -Q -C o -c "$T/p.ctx"
stop_swtpm
pass "stopped its TPM"
CASE

# A TPM that died under the test cannot be checked: no pass.
harness_case died 1 <<'CASE'
start_swtpm
kill -9 "$SWTPM_PID"
wait "$SWTPM_PID" 2>/dev/null || true
pass "lost its TPM"
CASE
grep -q '^FAIL: died: at exit: swtpm (pid [0-9]*, port [0-9]*) exited without stop_swtpm' \
	"$T/harness/died.err" || fail "harness case died: $(cat "$T/harness/died.err")"

# check_no_transient on a TPM that does not answer fails: "no answer" is
# never read as "no objects".
harness_case unreachable 1 <<'CASE'
start_swtpm
stop_swtpm
check_no_transient
pass "checked a TPM that is gone"
CASE
grep -q '^FAIL: unreachable: tpm2_getcap handles-transient failed' "$T/harness/unreachable.err" ||
	fail "harness case unreachable: $(cat "$T/harness/unreachable.err")"
grep -q '^PASS' "$T/harness/unreachable.out" && fail "harness case unreachable passed"

# transient_count, transient_handles and check_no_transient see a leftover
# object.
harness_case counted 1 <<'CASE'
start_swtpm
tpm2_createprimary -Q -C o -c "$T/p.ctx"
[ "$(transient_count)" -eq 1 ] || fail "transient_count: $(transient_count)"
h=$(transient_handles)
[ "$h" = 0x80000000 ] || fail "transient_handles: $h"
check_no_transient
pass "checked too late"
CASE
grep -q '^FAIL: counted: 1 transient object(s) left in the TPM: 0x80000000$' \
	"$T/harness/counted.err" || fail "harness case counted: $(cat "$T/harness/counted.err")"

# Helpers keep their variables to themselves, and leave errexit on.
harness_case locals 0 <<'CASE'
vars="name p n rc want got lo hi c h e s f out pid port tcti handles bad"
for v in $vars; do printf -v "$v" 'mine-%s' "$v"; done
need swtpm
x=$(free_port)
start_swtpm clobber
expect_status 0 true
expect_status 3 sh -c 'exit 3'
run_ok true
x=$(transient_count)
x=$(transient_handles)
check_no_transient
start_agent
stop_agent
restart_swtpm
check_no_transient
for v in $vars; do
	[ "${!v}" = "mine-$v" ] || fail "a helper changed the caller's \$$v to '${!v}'"
done
case $- in *e*) ;; *) fail "a helper turned errexit off" ;; esac
pass "helpers use locals"
CASE
grep -q '^PASS: locals: helpers use locals' "$T/harness/locals.out" ||
	fail "harness case locals: $(cat "$T/harness/locals.out")"
pass "the harness fails a test that leaves a transient object; helpers use locals"
