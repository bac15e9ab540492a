#!/usr/bin/env bash
# bench/run.sh SRCDIR BUILDDIR — `make bench`.
#
# Measures, in one run against one swtpm, tpmid's figures and the references
# they are judged against, and prints ratios (absolute times drift between
# machines and runs; ratios in the same run do not):
#   floor          shared/bench/esysbench, password auth, key loaded (N x Esys_Sign)
#   esapi-hmac     the same through ESAPI's salted HMAC session (what PIN keys cost naively)
#   agent no-PIN   sign-digest@tpmid through tpmid-agent
#   agent PIN      the same with a PIN key (unlocked)
#   16 clients     aggregate signs/s vs one client, p50/p99
#   ssh sign       SSH_AGENTC_SIGN_REQUEST through the agent
#   PKCS#11        shared/bench/p11bench through libtpmid-pkcs11.so (slot 0,
#                  no-PIN key): per-sign, and dlopen to the key found
#   RSS            agent idle with 100 identities
#   start          exec to ready (sign served) with the SRK persisted
#   ssh login      one full ssh login to a loopback sshd through tpmid vs
#                  through `ssh -I libtpm2_pkcs11.so` (tpm2-pkcs11, own swtpm, tpm2-abrmd)
# Environment: BENCH_N (signs per measurement, default 500), BENCH_REF_DIR
# (where esysbench.c/p11bench.c live, default SRCDIR/../shared/bench).
set -euo pipefail
srcdir=$1 builddir=$2
export top_srcdir=$srcdir top_builddir=$builddir
export TPMID=$builddir/tpmid TPMID_AGENT=$builddir/tpmid-agent
. "$srcdir/tests/lib.sh"
N=${BENCH_N:-500}
ref=${BENCH_REF_DIR:-$srcdir/../shared/bench}
[ -f "$ref/esysbench.c" ] || fail "reference $ref/esysbench.c not found (set BENCH_REF_DIR)"
need cc swtpm tpm2_getcap openssl
cc -O2 -o "$T/esysbench" "$ref/esysbench.c" -ltss2-esys -ltss2-tctildr
P11MOD=$builddir/.libs/libtpmid-pkcs11.so
[ -f "$P11MOD" ] && cc -O2 -o "$T/p11bench" "$ref/p11bench.c" -ldl || P11MOD=
AB=$builddir/bench/agentbench

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
now_ms() { date +%s%3N; }

start_swtpm
# Three processes (client, agent, swtpm) share two cores, so single figures
# swing with the machine's load. Each round therefore measures the floor
# and, right after, the agent paths (the agent is stopped while esysbench
# runs: swtpm has only 3 object slots); ratios are taken per round and the
# median over rounds is reported. BENCH_ROUNDS (default 5) rounds.
ROUNDS=${BENCH_ROUNDS:-5}
esapi_hmac=$(TSS2_TCTI=$TPMID_TCTI "$T/esysbench" $((N / 5)) 2 | field per_sign_ms)

printf '1234\n' >"$T/pin"
"$TPMID" --direct srk --persist >/dev/null
"$TPMID" --direct keygen bench-nopin >/dev/null
"$TPMID" --direct keygen bench-pin --pin-file "$T/pin" >/dev/null
: >"$T/r_floor"; : >"$T/r_nopin"; : >"$T/r_pin"; : >"$T/r_ssh"
: >"$T/q_nopin"; : >"$T/q_pin"; : >"$T/q_ssh"; : >"$T/r_p11"; : >"$T/q_p11"; : >"$T/s_p11"
for _ in $(seq "$ROUNDS"); do
	f=$(TSS2_TCTI=$TPMID_TCTI "$T/esysbench" "$N" 0 | field per_sign_ms)
	start_agent --max-loaded 3
	"$TPMID" unlock bench-pin --pin-file "$T/pin" >/dev/null
	"$AB" tpmid "$TPMID_SOCKET" bench-nopin 50 >/dev/null   # warm: keys loaded, session up
	"$AB" tpmid "$TPMID_SOCKET" bench-pin 50 >/dev/null
	a=$("$AB" tpmid "$TPMID_SOCKET" bench-nopin "$N" | field p50_ms)
	b=$("$AB" tpmid "$TPMID_SOCKET" bench-pin "$N" | field p50_ms)
	c=$("$AB" ssh "$TPMID_SOCKET" bench-nopin "$N" | field p50_ms)
	if [ -n "$P11MOD" ]; then
		out=$(TPMID_SOCKET=$TPMID_SOCKET "$T/p11bench" "$P11MOD" - "$N" bench-nopin)
		echo "$out" | field per_sign_ms >>"$T/r_p11"
		echo "$out" | field setup_ms >>"$T/s_p11"
		ratio "$(echo "$out" | field per_sign_ms)" "$f" >>"$T/q_p11"; echo >>"$T/q_p11"
	fi
	stop_agent
	echo "$f" >>"$T/r_floor"; echo "$a" >>"$T/r_nopin"; echo "$b" >>"$T/r_pin"; echo "$c" >>"$T/r_ssh"
	ratio "$a" "$f" >>"$T/q_nopin"; echo >>"$T/q_nopin"
	ratio "$b" "$f" >>"$T/q_pin"; echo >>"$T/q_pin"
	ratio "$c" "$f" >>"$T/q_ssh"; echo >>"$T/q_ssh"
done
floor=$(median <"$T/r_floor")
nopin_p50=$(median <"$T/r_nopin"); nopin_r=$(median <"$T/q_nopin")
pin_p50=$(median <"$T/r_pin"); pin_r=$(median <"$T/q_pin")
ssh_p50=$(median <"$T/r_ssh"); ssh_r=$(median <"$T/q_ssh")
p11_mod=NA p11_mod_r=NA p11_setup=NA
if [ -n "$P11MOD" ]; then
	p11_mod=$(median <"$T/r_p11"); p11_mod_r=$(median <"$T/q_p11"); p11_setup=$(median <"$T/s_p11")
fi

start_agent --max-loaded 3
"$AB" tpmid "$TPMID_SOCKET" bench-nopin 50 >/dev/null
one=$("$AB" tpmid "$TPMID_SOCKET" bench-nopin "$((N / 2))" 1)
conc=$("$AB" tpmid "$TPMID_SOCKET" bench-nopin "$((N / 8))" 16)

# Idle RSS with 100 identities: 98 more, then a fresh agent that has listed them.
for i in $(seq 1 98); do "$TPMID" keygen "bench-$i" >/dev/null; done
stop_agent
start_agent --max-loaded 3
"$TPMID" list >/dev/null
"$AB" tpmid "$TPMID_SOCKET" bench-nopin 5 >/dev/null
sleep 0.2
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status")
stop_agent

# Start to ready (a signature served) with the SRK persisted: median of 5.
start_ms=$(for _ in 1 2 3 4 5; do
	t0=$(now_ms)
	"$TPMID_AGENT" --foreground --socket "$TPMID_SOCKET" >>"$T/agent.log" 2>&1 &
	pid=$!
	until "$AB" tpmid "$TPMID_SOCKET" bench-nopin 1 >/dev/null 2>&1; do sleep 0.002; done
	t1=$(now_ms)
	kill -TERM "$pid"; wait "$pid" || true
	echo $((t1 - t0))
done | median)
# The poller's own cost (fork+exec of agentbench, one sign) is included: an upper bound.

# ssh login through tpmid vs through tpm2-pkcs11 (its own swtpm behind
# tpm2-abrmd, bench/pkcs11-baseline.sh) vs a plain software key (the floor:
# most of a login is ssh/sshd process start-up). Logins alternate so load
# drift hits all three alike.
login_tpmid=NA login_p11=NA login_plain=NA p11_sign=NA
if command -v sshd >/dev/null; then
	start_agent --max-loaded 3
	mkdir -p /run/sshd "$T/ssh"
	ssh-keygen -q -t ecdsa -N '' -f "$T/ssh/host" </dev/null
	ssh-keygen -q -t ecdsa -N '' -f "$T/ssh/plain" </dev/null
	"$TPMID" pubkey bench-nopin --format ssh >"$T/ssh/tpmid.pub"
	cat "$T/ssh/tpmid.pub" "$T/ssh/plain.pub" >"$T/ssh/authorized_keys"
	p11dir="$T/p11"
	if BENCH_REF_DIR=$ref "$srcdir/bench/pkcs11-baseline.sh" setup "$p11dir" >"$T/p11.log" 2>&1; then
		cat "$p11dir/id_p11.pub" >>"$T/ssh/authorized_keys"
		# Stopped by PID on any exit, like everything else here.
		for f in abrmd dbus swtpm; do _track "$(cat "$p11dir/$f.pid")"; done
	else
		echo "tpm2-pkcs11 baseline setup failed; its figures are NA:" >&2
		tail -n 20 "$T/p11.log" >&2
		p11dir=
	fi
	P=$(free_port)
	cat >"$T/ssh/sshd_config" <<CFG
Port $P
ListenAddress 127.0.0.1
HostKey $T/ssh/host
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $T/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin yes
CFG
	/usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" 2>>"$T/sshd.log" &
	_track $!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.05; done
	sshopts=(-F none -p "$P" -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PreferredAuthentications=publickey)
	user=$(id -un)
	: >"$T/l_tpmid"; : >"$T/l_p11"; : >"$T/l_plain"
	for _ in $(seq 10); do
		t0=$(now_ms)
		# The agent holds 100 identities: offer just this one (IdentityFile
		# names a key whose .pub is beside it), as a user with many keys would.
		ssh "${sshopts[@]}" -o IdentityAgent="$TPMID_SOCKET" -o IdentitiesOnly=yes \
			-o IdentityFile="$T/ssh/tpmid" "$user@127.0.0.1" true
		echo $(($(now_ms) - t0)) >>"$T/l_tpmid"
		t0=$(now_ms)
		ssh "${sshopts[@]}" -o IdentityAgent=none -o IdentitiesOnly=yes -i "$T/ssh/plain" "$user@127.0.0.1" true
		echo $(($(now_ms) - t0)) >>"$T/l_plain"
		if [ -n "$p11dir" ]; then
			"$srcdir/bench/pkcs11-baseline.sh" login "$p11dir" "$P" "$user" 1 |
				field p11_ssh_login_ms_median >>"$T/l_p11"
		fi
	done
	login_tpmid=$(median <"$T/l_tpmid")
	login_plain=$(median <"$T/l_plain")
	if [ -n "$p11dir" ]; then
		login_p11=$(median <"$T/l_p11")
		p11_sign=$(BENCH_REF_DIR=$ref "$srcdir/bench/pkcs11-baseline.sh" signbench "$p11dir" 200 | field per_sign_ms)
		"$srcdir/bench/pkcs11-baseline.sh" teardown "$p11dir" >/dev/null 2>&1 || true
	fi
	stop_agent
fi

one_sps=$(echo "$one" | field signs_per_s)
conc_sps=$(echo "$conc" | field signs_per_s)
echo
echo "tpmid benchmark ($(date -u +%Y-%m-%dT%H:%MZ), swtpm, ECDSA P-256, N=$N, $ROUNDS paired rounds;"
echo "latencies are medians over rounds, ratios the median of the per-round ratios)"
printf '%-40s %10s %8s %s\n' "measurement" "value" "ratio" "target"
printf '%-40s %8s ms %8s %s\n' "floor: esysbench, password auth" "$floor" "1.00" ""
printf '%-40s %8s ms %8s %s\n' "ESAPI salted HMAC session (reference)" "$esapi_hmac" "$(ratio "$esapi_hmac" "$floor")" ""
printf '%-40s %8s ms %8s %s\n' "agent sign, no-PIN key (p50)" "$nopin_p50" "$nopin_r" "<= 1.25"
printf '%-40s %8s ms %8s %s\n' "agent sign, PIN key (p50)" "$pin_p50" "$pin_r" "<= 2.00"
printf '%-40s %8s ms %8s %s\n' "ssh-agent SIGN_REQUEST, no-PIN (p50)" "$ssh_p50" "$ssh_r" "<= 1.30"
printf '%-40s %8s/s %7s %s\n' "16 clients aggregate vs 1 client" "$conc_sps" "$(ratio "$conc_sps" "$one_sps")" ">= 0.90 (1 client: $one_sps/s)"
printf '%-40s %s\n' "16 clients latency" "p50 $(echo "$conc" | field p50_ms) ms, p99 $(echo "$conc" | field p99_ms) ms"
printf '%-40s %8s KiB %7s %s\n' "agent idle RSS, 100 identities" "$rss_kb" "" "<= 8192 KiB"
printf '%-40s %8s ms %8s %s\n' "agent start to first sign (SRK persisted)" "$start_ms" "" "<= 100 ms"
printf '%-40s %8s ms %8s %s\n' "ssh login, plain software key (floor)" "$login_plain" "1.00" ""
printf '%-40s %8s ms %8s %s\n' "ssh login via tpmid (median of 10)" "$login_tpmid" "$(ratio "$login_tpmid" "$login_plain")" ""
if [ "$login_p11" != NA ] && [ "$login_tpmid" != NA ]; then
	printf '%-40s %8s ms %8s %s\n' "ssh login via tpm2-pkcs11 (median of 10)" "$login_p11" "$(ratio "$login_p11" "$login_plain")" "(tpm2-pkcs11 / tpmid: $(ratio "$login_p11" "$login_tpmid"))"
else
	printf '%-40s %8s\n' "ssh login via tpm2-pkcs11" "$login_p11"
fi
printf '%-40s %8s ms %8s %s\n' "tpm2-pkcs11 C_Sign (p11bench)" "$p11_sign" "$( [ "$p11_sign" != NA ] && ratio "$p11_sign" "$floor" || echo NA)" "(reference)"
printf '%-40s %8s ms %8s %s\n' "libtpmid-pkcs11 C_Sign (p11bench)" "$p11_mod" "$p11_mod_r" "<= 1.20$( [ "$p11_sign" != NA ] && [ "$p11_mod" != NA ] && echo " (tpm2-pkcs11 / tpmid: $(ratio "$p11_sign" "$p11_mod"), >= 5)")"
printf '%-40s %8s ms %8s %s\n' "libtpmid-pkcs11 dlopen to key found" "$p11_setup" "" "<= 5 ms"
