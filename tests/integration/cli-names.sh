#!/bin/bash
# What a new user trips over with names and keys (issue 10, Medium 6 and
# Lows): the same key imported twice made ssh fail with "agent refused
# operation"; invalid names got other messages and exit codes through the
# agent than in direct mode, and `tpmid lock ''` locked everything; a PIN
# was asked for before checks that fail anyway; control characters in a
# name reached the terminal.
. "$top_srcdir/tests/lib.sh"
need openssl python3

start_swtpm
for mode in direct agent; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k-$mode.pem" 2>/dev/null
done
# An askpass that records being asked: no PIN must be asked for below.
printf '#!/bin/sh\necho asked >>"%s/asked"\necho 1234\n' "$T" >"$T/askpass"
chmod +x "$T/askpass"
export SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force

for mode in direct agent; do
	if [ $mode = agent ]; then start_agent; fi
	log "--- $mode"
	# Invalid names: exit 2, one message, whichever mode.
	for name in "" "a/b" ".." "has space" "$(printf 'x%.0s' $(seq 65))" "-x" "$(printf 'bell\a')"; do
		for cmd in "sign --in /etc/hostname" "pubkey" "delete" "keygen" "unlock" "lock"; do
			opts=
			[ "$cmd" = "${cmd#* }" ] || opts=${cmd#* }
			# shellcheck disable=SC2086
			expect_status 2 setsid "$TPMID" ${cmd%% *} $opts -- "$name" </dev/null
			grep -q "is not a valid identity name (1-64 characters" "$T/err" ||
				fail "$mode ${cmd%% *} '$name': $(cat "$T/err")"
		done
	done
	grep -q "'bell\\\\x07' is not a valid" "$T/err" || fail "control character not escaped: $(cat "$T/err")"
	grep -q "$(printf '\a')" "$T/err" && fail "a raw control character reached stderr"
	[ ! -e "$T/asked" ] || fail "a PIN was asked for an invalid name"

	# An existing name: refused before the PIN is asked for.
	run_ok "$TPMID" import k1-$mode --key "$T/k-$mode.pem"
	expect_status 1 setsid "$TPMID" keygen k1-$mode --pin </dev/null
	grep -q "identity 'k1-$mode' already exists" "$T/err" || fail "keygen existing: $(cat "$T/err")"
	expect_status 1 setsid "$TPMID" import k1-$mode --key "$T/k-$mode.pem" --pin </dev/null
	grep -q "identity 'k1-$mode' already exists" "$T/err" || fail "import existing: $(cat "$T/err")"
	expect_status 1 setsid "$TPMID" unlock nosuch </dev/null
	[ ! -e "$T/asked" ] || fail "a PIN was asked for a command bound to fail ($mode)"

	# The same key again: refused, naming who holds it; --force imports it.
	expect_status 1 setsid "$TPMID" import k2-$mode --key "$T/k-$mode.pem" --pin </dev/null
	grep -q "the store already holds this key as identity 'k1-[a-z]*' (use --force" "$T/err" ||
		fail "duplicate import: $(cat "$T/err")"
	[ ! -e "$T/asked" ] || fail "a PIN was asked for a duplicate import"
	[ ! -e "$TPMID_STORE/k2-$mode.json" ] || fail "duplicate import wrote k2-$mode"
	if [ $mode = agent ]; then stop_agent; fi
done

# --force, and list names the pair (text on stderr, JSON).
run_ok "$TPMID" import k2 --key "$T/k-agent.pem" --force
run_ok "$TPMID" import k3 --key "$T/k-agent.pem" --force
"$TPMID" list >"$T/out" 2>"$T/err" || fail "list: $(cat "$T/err")"
grep -q "^note: 'k1-agent' and 'k2' hold the same key" "$T/err" || fail "list note: $(cat "$T/err")"
[ "$(grep -c '^note:' "$T/err")" -eq 2 ] || fail "three copies, expected two notes: $(cat "$T/err")"
"$TPMID" list --json >"$T/l.json" 2>/dev/null
python3 - "$T/l.json" <<'PY' || fail "list --json same_key_as: $(cat "$T/l.json")"
import json, sys
l = {i["name"]: i for i in json.load(open(sys.argv[1]))}
for n in ("k1-agent", "k2", "k3"):
    assert l[n]["same_key_as"] in l and l[n]["same_key_as"] != n, l
assert l["k1-direct"]["same_key_as"] is None, l
PY
# A TSS2 key file already in the store: refused too.
run_ok "$TPMID" keygen t
run_ok "$TPMID" export t --tss2 --out "$T/t.tss2"
expect_status 1 "$TPMID" import t2 --key "$T/t.tss2"
grep -q "already holds this key as identity 't'" "$T/err" || fail "TSS2 duplicate: $(cat "$T/err")"
pass "names checked alike in both modes, before any PIN; a key held twice refused or named"
