#!/bin/bash
# The wire room stands on its own: a program and a shared object linked with
# libtpmid-wire.la and libtpmid-common.la alone talk to a running agent, pull
# in no OpenSSL, json-c or tpm2-tss, and the shared object exports nothing
# but its own API (what the PKCS#11 module will need inside other programs).
. "$top_srcdir/tests/lib.sh"
need openssl readelf nm python3

: "${WIRECLIENT:?run through make check}" "${WIREPROBE:?run through make check}"
[ -x "$WIRECLIENT" ] || fail "$WIRECLIENT not built"
[ -f "$WIREPROBE" ] || fail "$WIREPROBE not built"

# Linked with nothing but libc (and the sanitizers' runtimes in a
# sanitizer build).
for f in "$WIRECLIENT" "$WIREPROBE"; do
	needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	for lib in $needed; do
		case $lib in
		libc.so.* | ld-linux* | libasan.so.* | libubsan.so.* | libm.so.* | libdl.so.* | \
			libpthread.so.* | libstdc++.so.* | libgcc_s.so.* | librt.so.*) ;;
		*) fail "$(basename "$f") needs $lib (the wire room must link with common/ alone): $needed" ;;
		esac
	done
done
pass "wireclient and libwireprobe.so need only libc: $needed"

# The shared object exports its one function; everything of ours is hidden.
exported=$(nm -D --defined-only "$WIREPROBE" | awk '{print $3}' |
	grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' | sort | tr '\n' ' ')
[ "$exported" = "tpmid_wire_probe " ] || fail "libwireprobe.so exports more than its API: $exported"
nm -D "$WIREPROBE" | grep -Eq ' [TDB] (read_file|freezero|write_all|client_call|tbuf_new)$' &&
	fail "a helper is exported"
pass "libwireprobe.so exports only tpmid_wire_probe"

start_swtpm
run_ok "$TPMID" --direct keygen w1
run_ok "$TPMID" --direct keygen w2 --curve p384
start_agent

"$WIRECLIENT" "$TPMID_SOCKET" status >"$T/status" 2>"$T/err" || fail "status: $(cat "$T/err")"
grep -q '^identities 2$' "$T/status" || fail "status: $(cat "$T/status")"
grep -q '^tpm reachable$' "$T/status" || fail "status: $(cat "$T/status")"
"$WIRECLIENT" "$TPMID_SOCKET" list >"$T/list" 2>"$T/err" || fail "list: $(cat "$T/err")"
printf 'w1 ecdsa-p256\nw2 ecdsa-p384\n' | cmp -s - "$T/list" || fail "list: $(cat "$T/list")"
head -c 4096 /dev/urandom >"$T/msg"
for k in w1 w2; do
	h=sha256
	[ "$k" = w2 ] && h=sha384
	openssl dgst -"$h" -binary "$T/msg" >"$T/$k.dgst"
	"$WIRECLIENT" "$TPMID_SOCKET" sign "$k" "$T/$k.dgst" "$T/$k.sig" 2>"$T/err" ||
		fail "sign $k: $(cat "$T/err")"
	"$TPMID" pubkey "$k" >"$T/$k.pem"
	openssl dgst -"$h" -verify "$T/$k.pem" -signature "$T/$k.sig" "$T/msg" >/dev/null ||
		fail "signature by $k through the wire-only client does not verify"
done
# An agent error comes back as the agent's message.
"$WIRECLIENT" "$TPMID_SOCKET" sign nope "$T/w1.dgst" "$T/x.sig" 2>"$T/err" && fail "signed with 'nope'"
grep -q "no identity 'nope'" "$T/err" || fail "error not passed on: $(cat "$T/err")"
pass "a client linked with the wire room alone lists, signs and gets errors"

# The shared object inside another program (python, through dlopen). A
# sanitizer build's runtime must come first in a host that was not built
# with it, and python's own allocations are not ours to leak-check.
preload=
if readelf -d "$WIREPROBE" | grep -q 'NEEDED.*libasan'; then
	preload=$(ldd "$WIREPROBE" | awk '/libasan|libubsan/ {print $3}' | tr '\n' ' ')
fi
n=$(LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 python3 -c 'import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.tpmid_wire_probe.argtypes = [ctypes.c_char_p]
print(lib.tpmid_wire_probe(sys.argv[2].encode()))' "$WIREPROBE" "$TPMID_SOCKET" 2>"$T/err") ||
	fail "dlopen of libwireprobe.so: $(cat "$T/err")"
[ "$n" = 2 ] || fail "tpmid_wire_probe returned $n"
pass "libwireprobe.so works inside python (identities: $n)"

stop_agent
check_no_transient
