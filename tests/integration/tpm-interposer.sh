#!/bin/bash
# The TPM proxy as an active bus interposer (tests/tpmproxy "interpose
# srk-swap"): it replaces the primary key in TPM2_CreatePrimary replies with
# a key of its own, recomputes the name, and re-MACs unsalted HMAC
# sessions, as an attacker on the bus can. This checks the interposer
# itself against tpm2-tools, which accepts the forgery: the primary it gets
# is the attacker's key. (What tpmid does about it: issue 9.)
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
