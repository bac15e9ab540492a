#!/bin/bash
# libtpmid-pkcs11.so in a container, the thin-edge way: a system agent
# (its own uid, socket directory 0750 and socket 0660 of its group, as
# contrib/systemd makes them) and a "container" (a mount namespace with its
# own /run, the agent's socket directory bind-mounted at /run/tpmid, the
# module copied in) whose pkcs11-tool runs as another uid with
# TPMID_SOCKET=/run/tpmid/agent.sock. A uid an identity's allowed_uids
# admits sees that identity and signs with it (a PIN key after C_Login,
# a wrong PIN is CKR_PIN_INCORRECT and then the agent holds that uid's
# PINs back); a uid not admitted sees none; a uid without the socket's
# group cannot reach the agent; and in a user namespace the agent sees
# (and allowed_uids must name) the uid outside, not the container's.
. "$top_srcdir/tests/lib.sh"
need pkcs11-tool openssl readelf unshare setpriv mount python3 tpm2_getcap
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root (mount namespace, other uids)" >&2; exit 77; }
M=${TPMID_PKCS11:?run through make check}
[ -f "$M" ] || fail "$M not built"
if ! unshare -m --propagation private true 2>"$T/err"; then
	# Like a missing program: a broken setup unless skipping is allowed.
	[ -n "${TPMID_ALLOW_SKIP:-}" ] && { echo "SKIP: $TEST_NAME: unshare -m: $(cat "$T/err")" >&2; exit 77; }
	fail "cannot make a mount namespace (unshare -m): $(cat "$T/err")"
fi
userns=1
if ! unshare -U true 2>"$T/err"; then
	[ -n "${TPMID_ALLOW_SKIP:-}" ] || fail "cannot make a user namespace (unshare -U): $(cat "$T/err")"
	log "no user namespaces ($(cat "$T/err")): that case is skipped"
	userns=0
fi

# Numeric ids, no passwd entries needed: the agent's user "tpmid" and
# group "tpmid" (the socket's), uid IN (admitted by allowed_uids), uid OUT
# (not admitted; in group tpmid too), uid NOGRP (not in group tpmid), and
# a user-namespaced container whose uid 1000 is uid USERNS outside.
AGENT_UID=64100 TPMID_GID=64000 IN=64001 OUT=64002 NOGRP=64003 USERNS=70000

# The ASan module needs its runtime preloaded in pkcs11-tool.
asan_preload "$M"

start_swtpm
# Wrong PINs stay counted (1000 s): the TPM's counter is exact, and a
# uid that gave a wrong one is held back for the rest of the test.
set_da_params 32 1000 1
printf '1234\n' >"$T/pin"
run_ok "$TPMID" --direct keygen shared --no-pin
run_ok "$TPMID" --direct keygen spin --pin-file "$T/pin"
run_ok "$TPMID" --direct keygen own --no-pin
run_ok "$TPMID" --direct keygen inner --no-pin
for id in shared spin own inner; do "$TPMID" --direct pubkey "$id" >"$T/$id.pem"; done
allow() { # ID UID...: the identity's allowed_uids
	python3 - "$TPMID_STORE/$1.json" "${@:2}" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["tpmid"]["allowed_uids"] = [int(u) for u in sys.argv[2:]]
with open(p + ".tmp", "w") as f:
    json.dump(d, f, indent=2)
os.chmod(p + ".tmp", 0o600)
os.rename(p + ".tmp", p)
PY
}
allow shared "$IN" "$USERNS"
allow spin "$IN"
allow inner 1000 # the container's own number for USERNS: never what the agent sees
# (own: no allowed_uids, the agent's uid and root only)

# --- the system agent, as uid AGENT_UID -------------------------------------
# It needs to reach $T, a copy of itself, its store, its runtime dir.
chmod 711 "$T"
mkdir -p "$T/bin" "$T/agent-home" "$T/agent-run" "$T/sys/tpmid" "$T/work"
cp "$TPMID_AGENT" "$T/bin/tpmid-agent"
chmod 755 "$T/bin" "$T/bin/tpmid-agent"
chown -R "$AGENT_UID:$TPMID_GID" "$TPMID_STORE" "$T/agent-home" "$T/agent-run"
chmod 700 "$TPMID_STORE" "$T/agent-home" "$T/agent-run"
# tmpfiles.d: d /run/tpmid 0750 tpmid tpmid
chown "$AGENT_UID:$TPMID_GID" "$T/sys/tpmid"
chmod 750 "$T/sys/tpmid"
SOCK="$T/sys/tpmid/agent.sock"
start_sys_agent() {
	HOME="$T/agent-home" XDG_RUNTIME_DIR="$T/agent-run" "${PEER_ENV[@]}" \
		setpriv --reuid="$AGENT_UID" --regid="$TPMID_GID" --clear-groups -- \
		"$T/bin/tpmid-agent" --foreground --system --socket "$SOCK" --store "$TPMID_STORE" \
		--tcti "$TPMID_TCTI" --log-level debug >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	_track "$AGENT_PID"
	wait_log "$AGENT_PID" "$T/agent.log" "ready: serving $SOCK (pid $AGENT_PID," ||
		fail "the agent did not become ready: $(tail -n 5 "$T/agent.log")"
	[ "$(stat -c '%a %u %g' "$SOCK")" = "660 $AGENT_UID $TPMID_GID" ] ||
		fail "socket: $(stat -c '%a %u %g' "$SOCK"), want 660 $AGENT_UID $TPMID_GID"
}
start_sys_agent

# --- the container --------------------------------------------------------------
# container [--userns] UID GID CMD...: CMD in a new mount namespace whose
# /run is its own tmpfs holding tpmid/ (the agent's socket directory,
# bind-mounted), lib/libtpmid-pkcs11.so (a copy) and work/ ($T/work), as
# UID:GID with no other groups and only PATH, HOME and TPMID_SOCKET in
# its environment. --userns: also in a user namespace where UID:GID are
# USERNS:TPMID_GID outside and the container's root is uid 100000.
cat >"$T/enter" <<'EOF'
#!/bin/bash
set -eu
sockdir=$1 work=$2 module=$3
shift 3
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/tpmid /run/lib /run/work
mount --bind "$sockdir" /run/tpmid
mount --bind "$work" /run/work
cp "$module" /run/lib/libtpmid-pkcs11.so
chmod 644 /run/lib/libtpmid-pkcs11.so
exec "$@"
EOF
# userns UIDMAP GIDMAP UID GID CMD...: CMD in a new user namespace with
# those maps ("inside outside count;..."), as UID:GID (inside) with no
# other groups. The namespace's creator writes the maps.
cat >"$T/userns.py" <<'EOF'
import ctypes, os, sys
uidmap, gidmap, uid, gid = sys.argv[1:5]
libc = ctypes.CDLL(None, use_errno=True)
r1, w1 = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        sys.stderr.write("unshare(CLONE_NEWUSER): %s\n" % os.strerror(ctypes.get_errno()))
        os._exit(126)
    os.write(w1, b"x")
    os.read(r2, 1)
    os.setgroups([])
    os.setresgid(int(gid), int(gid), int(gid))
    os.setresuid(int(uid), int(uid), int(uid))
    os.execvp(sys.argv[5], sys.argv[5:])
os.read(r1, 1)
for f, m in (("uid_map", uidmap), ("gid_map", gidmap)):
    with open("/proc/%d/%s" % (pid, f), "w") as fd:
        fd.write(m.replace(";", "\n"))
os.write(w2, b"x")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
EOF
chmod 700 "$T/enter"
chmod 1777 "$T/work"
container_cmd() { # sets C: the command line (an array: "${C[@]}" & gives its pid)
	local as
	if [ "$1" = --userns ]; then
		shift
		as=(python3 "$T/userns.py" "0 100000 1;$1 $USERNS 1" "0 100000 1;$2 $TPMID_GID 1" "$1" "$2")
	else
		as=(setpriv --reuid="$1" --regid="$2" --clear-groups --)
	fi
	shift 2
	C=(unshare -m --propagation private "$T/enter" "$T/sys/tpmid" "$T/work" "$M"
		"${as[@]}" env -i PATH=/usr/bin:/bin HOME=/run/work TPMID_SOCKET=/run/tpmid/agent.sock
		"${ASAN_PRELOAD[@]}" "$@")
}
container() { container_cmd "$@"; "${C[@]}"; }
# p11 [--userns] UID GID ARGS...: pkcs11-tool with the module, in the
# container; output to $T/out.
p11() {
	local u=()
	[ "$1" = --userns ] && { u=(--userns); shift; }
	container "${u[@]}" "$1" "$2" pkcs11-tool --module /run/lib/libtpmid-pkcs11.so "${@:3}" >"$T/out" 2>&1
}
head -c 3000 /dev/urandom >"$T/work/msg"
chmod 644 "$T/work/msg"
verify() { # ID SIG
	openssl dgst -sha256 -verify "$T/$1.pem" -signature "$2" "$T/work/msg" >/dev/null ||
		fail "the signature by $1 ($2) does not verify"
}
sign() { # [--userns] UID GID TOKEN KEYID OUT [ARGS...]: ECDSA-SHA256 over msg
	local u=()
	[ "$1" = --userns ] && { u=(--userns); shift; }
	rm -f "$T/work/$5"
	p11 "${u[@]}" "$1" "$2" --token-label "$3" --id "$4" --sign -m ECDSA-SHA256 \
		--signature-format openssl -i /run/work/msg -o "/run/work/$5" "${@:6}"
}
keyid() { awk '/ID:/ { print $2; exit }' "$T/out"; }

# --- an admitted uid ---------------------------------------------------------------
p11 "$IN" "$TPMID_GID" --list-slots || fail "list-slots as uid $IN: $(cat "$T/out")"
grep -q "^Slot 0 (0x0): tpmid-agent: every identity" "$T/out" || fail "uid $IN, slot 0: $(cat "$T/out")"
for id in shared spin; do
	grep -q "): $id\$" "$T/out" || fail "uid $IN has no slot for $id: $(cat "$T/out")"
done
grep -Eq "\): (own|inner)\$" "$T/out" && fail "uid $IN sees an identity it is not admitted to: $(cat "$T/out")"
grep -Eq "list@tpmid for uid $IN pid [0-9]+: ok" "$T/agent.log" ||
	fail "the agent did not see uid $IN: $(tail -n 3 "$T/agent.log")"
p11 "$IN" "$TPMID_GID" --token-label tpmid --list-objects || fail "list-objects as uid $IN: $(cat "$T/out")"
[ "$(grep -c '^Public Key Object' "$T/out")" -eq 2 ] || fail "uid $IN, token tpmid: $(cat "$T/out")"
p11 "$IN" "$TPMID_GID" --token-label shared --list-objects || fail "list-objects shared: $(cat "$T/out")"
shared_id=$(keyid)
p11 "$IN" "$TPMID_GID" --token-label spin --list-objects || fail "list-objects spin: $(cat "$T/out")"
spin_id=$(keyid)
{ [ -n "$shared_id" ] && [ -n "$spin_id" ]; } || fail "no CKA_ID for shared or spin"
sign "$IN" "$TPMID_GID" shared "$shared_id" sig.shared || fail "uid $IN signing with shared: $(cat "$T/out")"
verify shared "$T/work/sig.shared"
pass "uid $IN (allowed_uids) in the container: slots for shared and spin only, ECDSA-SHA256 verifies"

# Its PIN key: C_Login with the PIN, then sign; nothing spent.
da0=$(da_counter)
sign "$IN" "$TPMID_GID" spin "$spin_id" sig.spin --login --pin 1234 ||
	fail "uid $IN signing with spin after C_Login: $(cat "$T/out")"
verify spin "$T/work/sig.spin"
[ "$(da_counter)" -eq "$da0" ] || fail "the right PIN moved the DA counter"
# A wrong PIN: CKR_PIN_INCORRECT, one try ...
sign "$IN" "$TPMID_GID" spin "$spin_id" sig.bad --login --pin 9999 && fail "spin signed with a wrong PIN"
grep -q "C_Sign\(Final\)\? failed: rv = CKR_PIN_INCORRECT" "$T/out" || fail "wrong PIN: $(cat "$T/out")"
[ "$(da_counter)" -eq $((da0 + 1)) ] || fail "a wrong PIN moved the DA counter by $(( $(da_counter) - da0 ))"
# ... and from then on (the TPM's lockout interval) the agent tries no PIN
# from that uid: CKR_PIN_LOCKED, even for the right one (PROTOCOL.md 3.6).
sign "$IN" "$TPMID_GID" spin "$spin_id" sig.held --login --pin 1234 && fail "spin signed right after a wrong PIN"
grep -q "C_Sign\(Final\)\? failed: rv = CKR_PIN_LOCKED" "$T/out" || fail "PIN after a wrong one: $(cat "$T/out")"
grep -q "uid $IN gave a wrong PIN" "$T/agent.log" || fail "the agent did not say why: $(tail -n 3 "$T/agent.log")"
[ "$(da_counter)" -eq $((da0 + 1)) ] || fail "a held-back PIN reached the TPM"
pass "uid $IN with spin: C_Login + sign, a wrong PIN is CKR_PIN_INCORRECT (one try), then CKR_PIN_LOCKED"

# --- a uid that may reach the socket but no identity lists -----------------------------
p11 "$OUT" "$TPMID_GID" --list-slots || fail "list-slots as uid $OUT: $(cat "$T/out")"
grep -q "^Slot 0 (0x0): tpmid-agent: every identity" "$T/out" || fail "uid $OUT, slot 0: $(cat "$T/out")"
[ "$(grep -c '^Slot' "$T/out")" -eq 1 ] || fail "uid $OUT sees identity slots: $(cat "$T/out")"
p11 "$OUT" "$TPMID_GID" --token-label tpmid --list-objects || fail "list-objects as uid $OUT: $(cat "$T/out")"
grep -q "Object" "$T/out" && fail "uid $OUT sees objects: $(cat "$T/out")"
sign "$OUT" "$TPMID_GID" tpmid "$shared_id" sig.out && fail "uid $OUT signed with shared"
grep -q "Private key not found" "$T/out" || fail "uid $OUT, sign on token tpmid: $(cat "$T/out")"
sign "$OUT" "$TPMID_GID" shared "$shared_id" sig.out && fail "uid $OUT signed on token shared"
grep -q 'No slot with token named "shared"' "$T/out" || fail "uid $OUT, token shared: $(cat "$T/out")"
[ ! -e "$T/work/sig.out" ] || fail "a signature was written for uid $OUT"
pass "uid $OUT (not in allowed_uids): token tpmid without objects, no identity slot, no signature"

# --- a uid without the socket's group ------------------------------------------------
p11 "$NOGRP" "$NOGRP" --list-slots || true
grep -q "^Slot 0 (0x0): tpmid-agent: every identity" "$T/out" || fail "uid $NOGRP: $(cat "$T/out")"
grep -q "(empty)" "$T/out" || fail "uid $NOGRP: $(cat "$T/out")"
grep -q "token label" "$T/out" && fail "uid $NOGRP (not in group tpmid) reached the agent: $(cat "$T/out")"
grep -q "for uid $NOGRP " "$T/agent.log" && fail "a request of uid $NOGRP reached the agent"
pass "uid $NOGRP (not in the socket's group): no token (the socket's mode is the outer gate)"

# --- a user namespace: uid 1000 inside is uid USERNS outside ------------------------
# The agent identifies the peer as USERNS (SO_PEERCRED, its namespace):
# allowed_uids names USERNS; "inner" (allowed_uids [1000]) is not its.
# (Inside, the agent's uid and the files of the host's root are unmapped,
# all 65534: the module's check of who listens accepts that layout.)
if [ "$userns" = 1 ]; then
	p11 --userns 1000 1000 --list-slots || fail "list-slots in a user namespace: $(cat "$T/out")"
	grep -q "): shared\$" "$T/out" || fail "uid 1000 ($USERNS outside) has no slot for shared: $(cat "$T/out")"
	grep -Eq "\): (inner|spin|own)\$" "$T/out" && fail "uid 1000 ($USERNS outside) sees too much: $(cat "$T/out")"
	grep -Eq "list@tpmid for uid $USERNS pid [0-9]+: ok" "$T/agent.log" ||
		fail "the agent did not see uid $USERNS: $(tail -n 3 "$T/agent.log")"
	sign --userns 1000 1000 shared "$shared_id" sig.userns || fail "signing in a user namespace: $(cat "$T/out")"
	verify shared "$T/work/sig.userns"
	pass "user namespace: container uid 1000 is uid $USERNS to the agent; allowed_uids [$USERNS] admits it"
fi

# --- the agent restarts under a running container ----------------------------------
# The directory is bind-mounted, not the socket: the new agent's socket
# appears in a container started before it.
cat >"$T/work/twice" <<EOF
#!/bin/sh
p11() { pkcs11-tool --module /run/lib/libtpmid-pkcs11.so --token-label shared --id $shared_id \\
	--sign -m ECDSA-SHA256 --signature-format openssl -i /run/work/msg -o "/run/work/\$1"; }
p11 sig.before || exit 1
touch /run/work/signed
i=0
while [ ! -e /run/work/restarted ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i + 1)); done
p11 sig.after
EOF
chmod 755 "$T/work/twice"
container_cmd "$IN" "$TPMID_GID" /bin/sh /run/work/twice
"${C[@]}" >"$T/twice.log" 2>&1 &
twice=$!
_track "$twice"
for _ in $(seq 600); do
	[ -e "$T/work/signed" ] && break
	kill -0 "$twice" 2>/dev/null || break
	sleep 0.05
done
[ -e "$T/work/signed" ] || fail "the container's first signature: $(cat "$T/twice.log")"
stop_agent
[ ! -e "$SOCK" ] || fail "the stopped agent left its socket"
start_sys_agent
touch "$T/work/restarted"
wait "$twice" || fail "the container's signature after the agent restarted: $(cat "$T/twice.log")"
_untrack "$twice"
verify shared "$T/work/sig.before"
verify shared "$T/work/sig.after"
pass "the agent restarted under a running container: its new socket is there (directory bind mount)"

stop_agent
check_no_transient
