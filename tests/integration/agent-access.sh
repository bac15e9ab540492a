#!/bin/bash
# A peer with another uid is refused (and the refusal logged with its uid
# and pid) until an identity lists that uid in "allowed_uids"; even then it
# may only use that identity, and never manage identities.
. "$top_srcdir/tests/lib.sh"
need openssl python3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root to switch uid" >&2; exit 77; }
if command -v setpriv >/dev/null 2>&1; then
	as_nobody() { "${PEER_ENV[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
elif command -v runuser >/dev/null 2>&1; then
	as_nobody() { "${PEER_ENV[@]}" runuser -u nobody -- "$@"; }
else
	fail "neither setpriv nor runuser is installed"
fi

start_swtpm
run_ok "$TPMID" --direct keygen shared
run_ok "$TPMID" --direct keygen private
start_agent

# This test only: let uid 65534 reach the socket and a copy of the CLI.
# (The agent made its socket directory 0700 and the socket 0600.)
[ "$(stat -c %a "$(dirname "$TPMID_SOCKET")")" = 700 ] || fail "socket dir is not 0700"
[ "$(stat -c %a "$TPMID_SOCKET")" = 600 ] || fail "socket is not 0600"
chmod 711 "$T" "$T/run" "$(dirname "$TPMID_SOCKET")"
chmod 666 "$TPMID_SOCKET"
mkdir -p "$T/bin" "$T/nobody"
cp "$TPMID" "$T/bin/tpmid"
chmod 755 "$T/bin" "$T/bin/tpmid"
chmod 777 "$T/nobody"
printf 'data from another user\n' >"$T/nobody/msg"
chmod 644 "$T/nobody/msg"
"$TPMID" pubkey shared >"$T/shared.pem"

nobody() { HOME="$T/nobody" as_nobody "$T/bin/tpmid" --socket "$TPMID_SOCKET" "$@"; }

set +e
nobody sign shared --in "$T/nobody/msg" --out "$T/nobody/sig" 2>"$T/err.refused"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "uid 65534 was not refused (exit $rc): $(cat "$T/err.refused")"
grep -qi "permission denied" "$T/err.refused" || fail "refusal does not say why: $(cat "$T/err.refused")"
[ ! -s "$T/nobody/sig" ] || fail "a signature was written for uid 65534"
grep -Eq "refused [a-z-]+@tpmid 'shared' for uid 65534 pid [0-9]+" "$T/agent.log" ||
	fail "refusal not logged with uid and pid: $(tail -n 5 "$T/agent.log")"
nobody list >"$T/list" 2>"$T/err" || fail "list for uid 65534 failed: $(cat "$T/err")"
[ "$(tail -n +2 "$T/list" | wc -l)" -eq 0 ] || fail "uid 65534 sees identities: $(cat "$T/list")"
nobody export shared --tss2 >"$T/nobody.tss2" 2>"$T/err" && fail "uid 65534 exported 'shared'"
grep -qi "permission denied" "$T/err" || fail "export refusal does not say why: $(cat "$T/err")"
pass "uid 65534 refused: $(head -n 1 "$T/err.refused")"

# A missing identity looks the same as a forbidden one to a non-owner: no
# probing of names or of the store's path.
set +e
nobody pubkey no-such-identity >/dev/null 2>"$T/err.missing"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "uid 65534: pubkey of a missing identity exited $rc"
grep -qi "permission denied" "$T/err.missing" || fail "missing identity not answered as a refusal: $(cat "$T/err.missing")"
grep -q "$TPMID_STORE" "$T/err.missing" && fail "the store path leaked to uid 65534: $(cat "$T/err.missing")"
"$TPMID" pubkey no-such-identity 2>"$T/err.owner" && fail "owner: missing identity succeeded"
grep -q "no identity 'no-such-identity'" "$T/err.owner" || fail "owner lost the precise error: $(cat "$T/err.owner")"


# Allow uid 65534 on 'shared' by editing the identity file by hand.
python3 - "$TPMID_STORE/shared.json" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["tpmid"]["allowed_uids"] = [65534]
tmp = p + ".tmp"
with open(tmp, "w") as f:
    json.dump(d, f, indent=2)
os.chmod(tmp, 0o600)
os.rename(tmp, p)
PY
run_ok nobody sign shared --in "$T/nobody/msg" --out "$T/nobody/sig"
openssl dgst -sha256 -verify "$T/shared.pem" -signature "$T/nobody/sig" "$T/nobody/msg" >/dev/null ||
	fail "signature made for uid 65534 does not verify"
nobody list >"$T/list"
grep -q '^shared ' "$T/list" || fail "uid 65534 does not see 'shared': $(cat "$T/list")"
run_ok nobody export shared --tss2 --out "$T/nobody/shared.tss2"
grep -q -- '-----BEGIN TSS2 PRIVATE KEY-----' "$T/nobody/shared.tss2" || fail "uid 65534: export of 'shared'"
grep -q '^private ' "$T/list" && fail "uid 65534 sees 'private'"
# status tells another uid what it may use, not what the owner does.
nobody status >"$T/status" 2>&1 || fail "uid 65534: status: $(cat "$T/status")"
grep -q '^identities: *1$' "$T/status" || fail "uid 65534's status counts identities it may not use: $(cat "$T/status")"
grep -q '^signatures: *0$' "$T/status" || fail "uid 65534's status shows the owner's sign counter: $(cat "$T/status")"
grep -q "^tcti: *(not shown to this user)$" "$T/status" || fail "uid 65534's status shows the TCTI: $(cat "$T/status")"
"$TPMID" status >"$T/status"
grep -q '^identities: *2$' "$T/status" || fail "the owner's status: $(cat "$T/status")"
pass "allowed_uids [65534] lets uid 65534 use 'shared' only, and its status shows only that"

# allowed_gids: the peer's group (SO_PEERCRED's gid) grants access too.
python3 - "$TPMID_STORE/shared.json" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["tpmid"].pop("allowed_uids", None)
d["tpmid"]["allowed_gids"] = [4242]
tmp = p + ".tmp"
with open(tmp, "w") as f:
    json.dump(d, f, indent=2)
os.chmod(tmp, 0o600)
os.rename(tmp, p)
PY
HOME="$T/nobody" "${PEER_ENV[@]}" setpriv --reuid=65534 --regid=4242 --clear-groups -- \
	"$T/bin/tpmid" --socket "$TPMID_SOCKET" sign shared --in "$T/nobody/msg" --out "$T/nobody/sig3" \
	2>"$T/err" || fail "gid 4242 in allowed_gids was refused: $(cat "$T/err")"
nobody sign shared --in "$T/nobody/msg" --out "$T/nobody/sig4" 2>/dev/null &&
	fail "gid 65534 may use 'shared' with allowed_gids [4242]"
pass "allowed_gids [4242] lets gid 4242 (not 65534) use 'shared'"

set +e
nobody sign private --in "$T/nobody/msg" --out "$T/nobody/sig2" 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "uid 65534 may use 'private'"
set +e
nobody delete shared 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "uid 65534 could delete 'shared'"
[ -f "$TPMID_STORE/shared.json" ] || fail "'shared' was deleted by uid 65534"
set +e
nobody keygen mine 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "uid 65534 could create an identity"
[ ! -f "$TPMID_STORE/mine.json" ] || fail "uid 65534 created an identity"
grep -Eq "refused delete@tpmid 'shared' for uid 65534 pid [0-9]+" "$T/agent.log" ||
	fail "delete refusal not logged"
pass "uid 65534 may not use other identities nor manage any"

# Raw ssh-agent frames from uid 65534: LOCK and UNLOCK change what every
# peer gets, so they are the owner's (like lock@tpmid); a peer name with a
# newline must not forge a log line; one uid cannot take every connection.
cat >"$T/bin/rawagent.py" <<'PY'
import socket, struct, sys, time
path, what = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s
def call(s, body):
    s.sendall(struct.pack(">I", len(body)) + body)
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    n, = struct.unpack(">I", hdr)
    data = b""
    while len(data) < n:
        c = s.recv(n - len(data))
        if not c:
            return None
        data += c
    return data
def sstr(b):
    return struct.pack(">I", len(b)) + b
if what == "lock":      # SSH_AGENTC_LOCK
    print(call(conn(), b"\x16" + sstr(b"pw"))[0])
elif what == "unlock":  # SSH_AGENTC_UNLOCK
    print(call(conn(), b"\x17" + sstr(b"pw"))[0])
elif what == "inject":  # delete@tpmid with a newline in the name
    print(call(conn(), b"\x1b" + sstr(b"delete@tpmid") + sstr(b"x\nFORGED line"))[0])
elif what == "flood":   # how many of 48 connections are served?
    socks, ok = [conn() for _ in range(48)], 0
    time.sleep(0.5)
    for s in socks:
        try:
            ok += call(s, b"\x0b") is not None   # REQUEST_IDENTITIES
        except OSError:
            pass
    print(ok)
PY
chmod 755 "$T/bin/rawagent.py"
# A python3 that uid 65534 can run (a pyenv shim under /root is not one).
nobody_py=
for c in "$(command -v python3)" /usr/bin/python3 /usr/local/bin/python3; do
	if [ -x "$c" ] && as_nobody "$c" -c '' 2>/dev/null; then nobody_py=$c; break; fi
done
[ -n "$nobody_py" ] || fail "no python3 that uid 65534 can run"
raw() { as_nobody "$nobody_py" "$T/bin/rawagent.py" "$TPMID_SOCKET" "$@"; }
[ "$(raw lock)" = 5 ] || fail "uid 65534 could lock the agent with SSH_AGENTC_LOCK"
run_ok "$TPMID" sign shared --in "$T/nobody/msg" --out "$T/sig.owner"
[ "$(raw unlock)" = 5 ] || fail "uid 65534 got an answer other than FAILURE to UNLOCK"
grep -Eq "refused ssh-agent lock for uid 65534 pid [0-9]+" "$T/agent.log" ||
	fail "ssh-agent lock refusal not logged"
[ "$(raw inject)" = 28 ] || fail "delete@tpmid from uid 65534 not refused"
grep -q "^FORGED" "$T/agent.log" && fail "a peer-supplied name forged a log line"
n=$(raw flood)
[ "$n" -le 32 ] || fail "uid 65534 holds $n connections (cap 32)"
[ "$n" -ge 1 ] || fail "uid 65534 got no connection at all"
pass "ssh-agent LOCK/UNLOCK owner-only, names sanitized in logs, per-uid connection cap ($n)"

# What another uid can make the agent log is bounded: 300 refused requests
# in a burst used to write 300 lines.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
before=$(grep -c "for uid 65534" "$T/agent.log" || true)
cat >"$T/nobody/flood.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def string(b):
    return struct.pack(">I", len(b)) + b
body = b"\x1b" + string(b"delete@tpmid") + string(b"shared")
for _ in range(300):
    s.sendall(struct.pack(">I", len(body)) + body)
    n = struct.unpack(">I", s.recv(4))[0]
    while n > 0:
        n -= len(s.recv(n))
EOF
chmod 644 "$T/nobody/flood.py"
as_nobody "$PY" "$T/nobody/flood.py" "$TPMID_SOCKET" || fail "the flood client failed"
after=$(grep -c "for uid 65534" "$T/agent.log" || true)
[ $((after - before)) -le 25 ] || fail "300 refusals of uid 65534 wrote $((after - before)) log lines"
pass "300 refusals in a burst: $((after - before)) log lines"

stop_agent
check_no_transient
pass "clean stop"
