#!/bin/bash
# The TPM proxy as an active bus interposer (tests/tpmproxy "interpose
# srk-swap"): it replaces the primary key in TPM2_CreatePrimary replies with
# a key of its own, recomputes the name, and re-MACs unsalted HMAC
# sessions, as an attacker on the bus can. This checks the interposer
# itself against tpm2-tools, which accepts the forgery: the primary it gets
# is the attacker's key. tpmid, once it has recorded its SRK's name (trust
# on first use, or pinned with `tpmid srk --expect`), refuses the forged
# primary before anything secret is sent: keygen with a PIN, import,
# unlock and a PIN sign, in direct mode and through the agent, send no
# StartAuthSession, Create, Import, Load or Sign to the TPM. (Before, the
# interposer learnt the PIN of a new key and an imported private key.)
. "$top_srcdir/tests/lib.sh"
need tpm2_createprimary tpm2_readpublic openssl python3

start_swtpm
start_tpmproxy
primary() { # TCTI CTX: create the SRK-like primary; print its point's x
	TPM2TOOLS_TCTI=$1 tpm2_createprimary -C o -G ecc256:null:aes128cfb -c "$2" 2>"$T/err" |
		sed -n 's/^x: //p'
}
real=$(primary "$TPM2TOOLS_TCTI" "$T/real.ctx")
tpm2_flushcontext -t
[ -n "$real" ] || fail "tpm2_createprimary: $(cat "$T/err")"

proxy_ctl interpose srk-swap "$T/attacker.pem" >/dev/null
forged=$(primary "$TPMID_TCTI" "$T/forged.ctx")
[ -n "$forged" ] || fail "tpm2_createprimary through the interposer: $(cat "$T/err")"
tpm2_flushcontext -t
[ "$forged" != "$real" ] || fail "the interposer did not change the primary's key"
# The point tpm2-tools accepted is the attacker's.
ax=$(openssl pkey -in "$T/attacker.pem" -pubout -outform DER | tail -c 64 | head -c 32 | od -An -tx1 | tr -d ' \n')
[ "$forged" = "$ax" ] || fail "the forged point $forged is not the attacker's $ax"
grep -q "interpose: CreatePrimary public area and name replaced" "$T/tpmproxy.log" ||
	fail "the proxy did not log the rewrite"
log "the primary's x: $real; through the interposer: $forged (the attacker's)"
pass "the interposer swaps the primary's public key and name, and tpm2-tools accepts it"

proxy_ctl interpose off >/dev/null
again=$(primary "$TPMID_TCTI" "$T/again.ctx")
tpm2_flushcontext -t
[ "$again" = "$real" ] || fail "interpose off: x $again, want $real"
pass "interpose off passes the TPM's answer through"

# tpmid with a recorded SRK (the first keygen records it: trust on first use).
printf '8642\n' >"$T/pin"
run_ok "$TPMID" --direct keygen k
run_ok "$TPMID" --direct keygen kp --pin-file "$T/pin"
real_name=$("$TPMID" --direct srk | sed -n 's/^name: *//p')
[ -n "$real_name" ] || fail "tpmid srk printed no name"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/soft.pem" 2>/dev/null
head -c 64 /dev/urandom >"$T/msg"
sum_before=$(cd "$TPMID_STORE" && sha256sum ./*.json)
proxy_ctl interpose srk-swap "$T/attacker2.pem" >/dev/null

# refused WHAT CMD...: CMD fails saying the SRK is not the recorded one, and
# the TPM saw nothing after the forged CreatePrimary that could carry or
# use a secret.
refused() {
	local what=$1 sent
	shift
	proxy_ctl reset >/dev/null
	expect_status 1 "$@"
	grep -q "not the one recorded" "$T/err" || fail "$what through the interposer: $(cat "$T/err")"
	sent=$(proxy_ctl log | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)))')
	case " $sent " in
	*" 0x176 "* | *" 0x153 "* | *" 0x156 "* | *" 0x157 "* | *" 0x15d "*)
		fail "$what through the interposer sent [$sent] after the forged SRK" ;;
	esac
	log "$what: refused, sent only [$sent]"
}
refused "keygen --pin" "$TPMID" --direct keygen kp2 --pin-file "$T/pin"
refused "import" "$TPMID" --direct import ki --key "$T/soft.pem"
refused "import --pin" "$TPMID" --direct import ki --key "$T/soft.pem" --pin-file "$T/pin"
refused "PIN sign" "$TPMID" --direct sign kp --pin-file "$T/pin" --in "$T/msg" --out "$T/sig"
refused "sign" "$TPMID" --direct sign k --in "$T/msg" --out "$T/sig"
start_agent
refused "unlock (agent)" "$TPMID" unlock kp --pin-file "$T/pin"
refused "keygen --pin (agent)" "$TPMID" keygen kp3 --pin-file "$T/pin"
refused "PIN sign (agent)" "$TPMID" sign kp --pin-file "$T/pin" --in "$T/msg" --out "$T/sig"
stop_agent
[ "$(cd "$TPMID_STORE" && sha256sum ./*.json)" = "$sum_before" ] || fail "an identity file changed"
for n in kp2 ki kp3; do [ ! -e "$TPMID_STORE/$n.json" ] || fail "$n.json was written"; done
pass "with the SRK recorded, the forged primary is refused before any secret is sent (keygen --pin, import, unlock, PIN sign; direct and agent)"

# Pinning: a store with nothing recorded trusts its first answer, unless
# the name is given.
expect_status 1 env TPMID_STORE="$T/store2" "$TPMID" --direct srk --expect "$real_name"
grep -q "not the one recorded" "$T/err" || fail "srk --expect through the interposer: $(cat "$T/err")"
[ ! -e "$T/store2/.srk-name" ] || fail "srk --expect recorded the forged name"
proxy_ctl interpose off >/dev/null
out=$(env TPMID_STORE="$T/store2" "$TPMID" --direct srk --expect "$real_name") || fail "srk --expect: $out"
[ "$(cat "$T/store2/.srk-name" 2>/dev/null | tr -d '\n')" != "" ] || fail "srk --expect recorded nothing"
expect_status 1 env TPMID_STORE="$T/store2" "$TPMID" --direct srk --expect "000b$(printf '%064d' 0)"
grep -q "already trusts another" "$T/err" || fail "srk --expect with another name: $(cat "$T/err")"
pass "tpmid srk --expect pins the name: refused through the interposer, recorded without it, never switched silently"

# And without the interposer everything works again.
run_ok "$TPMID" --direct sign kp --pin-file "$T/pin" --in "$T/msg" --out "$T/sig"
run_ok "$TPMID" --direct keygen kp2 --pin-file "$T/pin"
run_ok "$TPMID" --direct delete kp2
pass "interposer gone: PIN keys work"
