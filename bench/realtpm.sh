#!/usr/bin/env bash
# bench/realtpm.sh SRCDIR BUILDDIR — part of `make bench`: what an operation
# costs on a hardware TPM. tests/tpmproxy sits in front of swtpm and adds
# each command's time from bench/tpm-model (a discrete TPM: 100 ms per
# ECDSA sign), so the number of TPM commands an operation sends is what
# decides its time, as on real hardware. Measured in one run, each with
# its TPM commands per operation:
#   tpmid agent, cached sign            (agentbench, sign-digest@tpmid)
#   ssh login through tpmid-agent
#   ssh login through tpm2-pkcs11       (ssh -I, via tpm2-abrmd: bench/pkcs11-baseline.sh)
#   tpm2-pkcs11 C_Sign                  (p11bench, session open)
#   openssl pkeyutl -provider tpm2      (one process per signature)
# Goal (issue 8): a cached sign is 1 TPM command; an ssh login under the
# model at least 3x faster through tpmid than through tpm2-pkcs11.
# Environment: REALTPM_N (repetitions, default 5), BENCH_REF_DIR.
set -euo pipefail
srcdir=$1 builddir=$2
export top_srcdir=$srcdir top_builddir=$builddir
export TPMID=$builddir/tpmid TPMID_AGENT=$builddir/tpmid-agent
. "$srcdir/tests/lib.sh"
N=${REALTPM_N:-5}
ref=${BENCH_REF_DIR:-$srcdir/../shared/bench}
AB=$builddir/bench/agentbench
need python3 openssl

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }'; }
now_ms() { date +%s%3N; }
# per_op TOTAL N: commands per operation, one decimal.
per_op() { awk -v a="$1" -v n="$2" 'BEGIN {printf "%.1f", a / n}'; }
# model CONTROL_PORT: load bench/tpm-model into the proxy at that port.
model() {
	local code ms
	while read -r code ms _; do
		case $code in '#'* | '') continue ;; esac
		PROXY_CONTROL=$1 proxy_ctl latency "$code" "$ms" >/dev/null
	done <"$srcdir/bench/tpm-model"
}
# total CONTROL_PORT: TPM commands the proxy saw since its last reset.
total() {
	PROXY_CONTROL=$1 proxy_ctl count | python3 -c 'import json, sys; print(sum(json.load(sys.stdin).values()))'
}

start_swtpm
start_tpmproxy
mine=$PROXY_CONTROL
run_ok "$TPMID" --direct keygen k
"$TPMID" --direct export k --tss2 >"$T/k.tss2"
head -c 32 /dev/urandom >"$T/dg"
start_agent --max-loaded 3
"$AB" tpmid "$TPMID_SOCKET" k 2 >/dev/null     # warm: SRK and key loaded
model "$mine"

# 1. Cached sign through the agent.
proxy_ctl reset >/dev/null; model "$mine"
sign_ms=$("$AB" tpmid "$TPMID_SOCKET" k "$N" | field p50_ms)
sign_cmds=$(per_op "$(total "$mine")" "$N")

# 2. ssh login through the agent.
. "$srcdir/tests/ssh-lib.sh"
"$TPMID" pubkey k --format ssh >"$T/k.pub"
cat "$T/k.pub" >"$T/authorized_keys"
start_sshd
# The floor: the same login with a software key, no agent (most of a
# login is ssh and sshd themselves).
ssh-keygen -q -t ecdsa -N '' -f "$T/plain" </dev/null
cat "$T/plain.pub" >>"$T/authorized_keys"
login_once() { ssh_login -o IdentitiesOnly=yes -o IdentityFile="$T/k" >/dev/null; }
plain_once() { ssh_login -o IdentityAgent=none -o IdentitiesOnly=yes -i "$T/plain" >/dev/null; }
login_once   # warm
proxy_ctl reset >/dev/null; model "$mine"
: >"$T/l_tpmid"; : >"$T/l_plain"
for _ in $(seq "$N"); do
	t0=$(now_ms); login_once; echo $(($(now_ms) - t0)) >>"$T/l_tpmid"
	t0=$(now_ms); plain_once; echo $(($(now_ms) - t0)) >>"$T/l_plain"
done
login_tpmid=$(median <"$T/l_tpmid")
login_plain=$(median <"$T/l_plain")
login_tpmid_cmds=$(per_op "$(total "$mine")" "$N")
stop_agent

# 3. openssl pkeyutl -provider tpm2: one process per signature, the key file
# tpmid exported (parent: the owner hierarchy's primary, made each time).
ossl_ms=NA ossl_cmds=NA
if openssl list -providers -provider tpm2 >/dev/null 2>&1; then
	export TPM2OPENSSL_TCTI=$TPMID_TCTI
	proxy_ctl reset >/dev/null; model "$mine"
	: >"$T/l_ossl"
	for _ in $(seq "$N"); do
		t0=$(now_ms)
		openssl pkeyutl -provider tpm2 -provider default -sign -inkey "$T/k.tss2" \
			-in "$T/dg" -out "$T/sig" 2>"$T/err" || fail "openssl tpm2 provider: $(cat "$T/err")"
		echo $(($(now_ms) - t0)) >>"$T/l_ossl"
	done
	ossl_ms=$(median <"$T/l_ossl")
	ossl_cmds=$(per_op "$(total "$mine")" "$N")
fi

# 4. tpm2-pkcs11 through tpm2-abrmd, its swtpm behind a proxy of its own.
p11_login=NA p11_login_cmds=NA p11_sign=NA p11_sign_cmds=NA
p11dir=$T/p11
if P11_TPMPROXY=$srcdir/tests/tpmproxy BENCH_REF_DIR=$ref \
	"$srcdir/bench/pkcs11-baseline.sh" setup "$p11dir" >"$T/p11.log" 2>&1; then
	for f in abrmd dbus proxy swtpm; do _track "$(cat "$p11dir/$f.pid")"; done
	p11ctl=$(. "$p11dir/env"; echo "$P11_PROXY_CONTROL")
	cat "$p11dir/id_p11.pub" >>"$T/authorized_keys"
	"$srcdir/bench/pkcs11-baseline.sh" login "$p11dir" "$SSHD_PORT" "$SSH_USER" 1 >/dev/null  # warm
	PROXY_CONTROL=$p11ctl proxy_ctl reset >/dev/null; model "$p11ctl"
	p11_login=$("$srcdir/bench/pkcs11-baseline.sh" login "$p11dir" "$SSHD_PORT" "$SSH_USER" "$N" |
		field p11_ssh_login_ms_median)
	p11_login_cmds=$(per_op "$(total "$p11ctl")" "$N")
	PROXY_CONTROL=$p11ctl proxy_ctl reset >/dev/null; model "$p11ctl"
	out=$(BENCH_REF_DIR=$ref "$srcdir/bench/pkcs11-baseline.sh" signbench "$p11dir" "$N")
	p11_sign=$(echo "$out" | field per_sign_ms)
	# Setup (C_Initialize, C_OpenSession, C_Login, key lookup) is counted
	# apart from the signatures: p11bench prints setup_ms; the proxy counts
	# all, so take the setup's commands out by running it with N=1 too.
	all=$(total "$p11ctl")
	PROXY_CONTROL=$p11ctl proxy_ctl reset >/dev/null; model "$p11ctl"
	BENCH_REF_DIR=$ref "$srcdir/bench/pkcs11-baseline.sh" signbench "$p11dir" 1 >/dev/null
	one=$(total "$p11ctl")
	[ "$N" -gt 1 ] && p11_sign_cmds=$(per_op $((all - one)) $((N - 1)))
	"$srcdir/bench/pkcs11-baseline.sh" teardown "$p11dir" >/dev/null 2>&1 || true
else
	echo "tpm2-pkcs11 baseline setup failed; its figures are NA:" >&2
	tail -n 20 "$T/p11.log" >&2
fi
stop_sshd

echo
echo "tpmid on a modelled hardware TPM ($(date -u +%Y-%m-%dT%H:%MZ); bench/tpm-model: Sign 100 ms,"
echo "Load 25 ms, CreatePrimary 180 ms, context swap 12 ms...; medians of $N)"
printf '%-44s %10s %12s %s\n' "operation" "TPM cmds" "time" "ratio"
printf '%-44s %10s %9s ms %s\n' "tpmid agent: cached sign" "$sign_cmds" "$sign_ms" "1.00 (floor: 1 command)"
printf '%-44s %10s %9s ms %s\n' "tpm2-pkcs11 C_Sign (session open, abrmd)" "$p11_sign_cmds" "$p11_sign" "$(ratio "$p11_sign" "$sign_ms") x tpmid"
printf '%-44s %10s %9s ms %s\n' "openssl pkeyutl -provider tpm2 (a process)" "$ossl_cmds" "$ossl_ms" "$(ratio "$ossl_ms" "$sign_ms") x tpmid"
printf '%-44s %10s %9s ms %s\n' "ssh login, software key (no TPM: the floor)" "0" "$login_plain" ""
printf '%-44s %10s %9s ms %s\n' "ssh login through tpmid-agent" "$login_tpmid_cmds" "$login_tpmid" "1.00"
printf '%-44s %10s %9s ms %s\n' "ssh login through tpm2-pkcs11 (ssh -I)" "$p11_login_cmds" "$p11_login" "$(ratio "$p11_login" "$login_tpmid") x tpmid"
if [ "$p11_login" != NA ]; then
	over_t=$(awk -v a="$login_tpmid" -v b="$login_plain" 'BEGIN {print a - b}')
	over_p=$(awk -v a="$p11_login" -v b="$login_plain" 'BEGIN {print a - b}')
	printf '%-44s %10s %9s ms %s\n' "  added to a login by tpmid" "" "$over_t" "1.00"
	printf '%-44s %10s %9s ms %s\n' "  added to a login by tpm2-pkcs11" "" "$over_p" "$(ratio "$over_p" "$over_t") x tpmid (goal >= 3)"
fi
