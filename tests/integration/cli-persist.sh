#!/bin/bash
# --persist / --persist=HANDLE: the key appears among the persistent
# handles, is used by a later CLI process, and is evicted on delete.
. "$top_srcdir/tests/lib.sh"
need openssl tpm2_getcap
start_swtpm

printf 'msg\n' >"$T/msg"
persistent() { tpm2_getcap handles-persistent; }

run_ok "$TPMID" keygen a --persist >"$T/out"
grep -q "0x81000010" "$T/out" || fail "keygen --persist output: $(cat "$T/out")"
persistent | grep -q 0x81000010 || fail "0x81000010 not persistent: $(persistent)"
grep -q '"handle": *"0x81000010"' "$TPMID_STORE/a.json" || fail "handle not recorded"

run_ok "$TPMID" keygen b --curve p384 --persist=0x81000020
persistent | grep -q 0x81000020 || fail "0x81000020 not persistent: $(persistent)"
run_ok "$TPMID" list >"$T/list"
grep -Eq '^a +ecdsa-p256 +none +0x81000010 ' "$T/list" || fail "list: $(cat "$T/list")"
grep -Eq '^b +ecdsa-p384 +none +0x81000020 ' "$T/list" || fail "list: $(cat "$T/list")"

# The requested handle is taken: refused, and no half identity remains.
expect_status 1 "$TPMID" keygen c --persist=0x81000020
grep -q "0x81000020" "$T/err" || fail "taken handle message: $(cat "$T/err")"
[ ! -e "$TPMID_STORE/c.json" ] || fail "failed --persist left an identity"
expect_status 2 "$TPMID" keygen c --persist=0x01000020

# Each command is a new process: the persistent key is used again.
for k in a b; do
	run_ok "$TPMID" pubkey "$k" >"$T/$k.pem"
	run_ok "$TPMID" sign "$k" --in "$T/msg" --force --out "$T/$k.sig"
	md=sha256; [ "$k" = b ] && md=sha384
	openssl dgst -$md -verify "$T/$k.pem" -signature "$T/$k.sig" "$T/msg" >/dev/null ||
		fail "$k: signature does not verify"
done

# The SRK name is remembered for fast starts.
[ -s "$TPMID_STORE/.srk-name" ] || fail "no .srk-name in the store"

run_ok "$TPMID" delete a
persistent | grep -q 0x81000010 && fail "0x81000010 still persistent after delete"
[ ! -e "$TPMID_STORE/a.json" ] || fail "delete left a.json"
# The next --persist reuses the first free handle.
run_ok "$TPMID" keygen d --persist
grep -q '"handle": *"0x81000010"' "$TPMID_STORE/d.json" || fail "first free handle not reused"
# A handle evicted behind tpmid's back and reused: deleting the old
# identity must not evict the object that now sits there.
run_ok "$TPMID" keygen x --persist=0x81000030
tpm2_evictcontrol -C o -c 0x81000030 >/dev/null
run_ok "$TPMID" keygen y --persist=0x81000030
run_ok "$TPMID" delete x
persistent | grep -q 0x81000030 || fail "deleting x evicted y's key at 0x81000030"
[ ! -e "$TPMID_STORE/x.json" ] || fail "delete left x.json"
run_ok "$TPMID" sign y --in "$T/msg" --force --out "$T/y.sig"
run_ok "$TPMID" delete y
persistent | grep -q 0x81000030 && fail "0x81000030 still persistent after delete y"
run_ok "$TPMID" delete b
run_ok "$TPMID" delete d
[ -z "$(persistent | grep 0x810000[12])" ] || fail "persistent handles left: $(persistent)"

# The SRK itself: persisted once at 0x81000001, then used by later starts
# (a sign leaves only the key loaded, not a re-created primary).
run_ok "$TPMID" keygen e
name1=$("$TPMID" srk | sed -n 's/^name: *//p')
[ -n "$name1" ] || fail "tpmid srk printed no name"
run_ok "$TPMID" srk --persist
persistent | grep -q 0x81000001 || fail "SRK not persistent at 0x81000001: $(persistent)"
run_ok "$TPMID" srk --persist   # a matching copy: no-op
name2=$("$TPMID" srk | sed -n 's/^name: *//p')
[ "$name1" = "$name2" ] || fail "SRK name changed after persisting ($name1 vs $name2)"
grep -qi "$name1" "$TPMID_STORE/.srk-name" || fail ".srk-name does not hold the SRK name"
run_ok "$TPMID" sign e --in "$T/msg" --force --out "$T/e.sig"   # key made before still loads
start_agent
run_ok "$TPMID" sign e --in "$T/msg" --force --out "$T/e.sig"
n=$(transient_count)
[ "$n" -eq 1 ] || fail "agent with a persisted SRK holds $n transient objects (want 1: the key)"
stop_agent
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null
run_ok "$TPMID" sign e --in "$T/msg" --force --out "$T/e.sig"   # falls back to CreatePrimary
run_ok "$TPMID" delete e

check_no_transient
pass "persist, reuse, evict; persisted SRK"
