#!/bin/bash
# PIN on demand for ssh (issue 10): `tpmid-agent --askpass=PROGRAM` runs
# the askpass program when the owner's ssh asks a PIN key to sign and no
# PIN is held, and the PIN signs that one request. Driven by OpenSSH's
# ssh-keygen -Y sign through the agent, with an askpass script that
# records its prompt and answers from a file (or cancels, or waits). What
# must hold: a good PIN signs (and is not kept), cancel and a wrong PIN
# refuse, a dialog left open never delays other clients, a second dialog
# is refused while one is open, a client that gives up closes its dialog,
# another user's request opens no dialog, and without --askpass nothing
# changes.
. "$top_srcdir/tests/lib.sh"
need ssh-keygen

start_swtpm
set_da_params 32 1 1
printf '1234\n' >"$T/pin"
run_ok "$TPMID" keygen p --pin-file "$T/pin"
run_ok "$TPMID" keygen free --no-pin
for id in p free; do "$TPMID" pubkey "$id" --format ssh >"$T/$id.pub"; done
echo "id@example.org namespaces=\"file\" $(cut -d' ' -f1,2 "$T/p.pub")" >"$T/allowed_signers"
echo "release" >"$T/file"

cat >"$T/askpass" <<EOS
#!/bin/sh
printf '%s\n' "\$1" >>"$T/prompts"
echo \$\$ >"$T/askpass.pid"
if [ -e "$T/wait" ]; then
	while [ -e "$T/wait" ]; do sleep 0.05; done
fi
[ -e "$T/cancel" ] && exit 1
cat "$T/answer"
EOS
chmod +x "$T/askpass"

# A path that is not there is refused at start, with the reason.
expect_status 2 "$TPMID_AGENT" --foreground --socket "$T/x.sock" --askpass="$T/nope"
grep -q "askpass: $T/nope: No such file or directory" "$T/err" || fail "--askpass=missing: $(cat "$T/err")"

start_agent --askpass="$T/askpass"
export SSH_AUTH_SOCK="$TPMID_SOCKET"
ysign() { rm -f "$T/file.sig"; ssh-keygen -q -Y sign -n file -f "$T/$1.pub" "$T/file" </dev/null; }
verify() {
	ssh-keygen -Y verify -f "$T/allowed_signers" -I id@example.org -n file \
		-s "$T/file.sig" <"$T/file" >"$T/out" 2>&1 || fail "verify: $(cat "$T/out")"
}

# A good PIN signs; the prompt names the identity and the asking program.
printf '1234\n' >"$T/answer"
ysign p 2>"$T/err" || fail "sign with askpass PIN: $(cat "$T/err") $(tail -5 "$T/agent.log")"
verify
grep -q "PIN for identity 'p' (ssh sign request from ssh-keygen, pid [0-9]*)" "$T/prompts" ||
	fail "prompt: $(cat "$T/prompts")"
# Not kept: the next signature asks again, status holds no PIN.
"$TPMID" status | grep -q '^unlocked: *0' || fail "the askpass PIN is held: $("$TPMID" status)"
ysign p 2>"$T/err" || fail "second sign: $(cat "$T/err")"
[ "$(wc -l <"$T/prompts")" -eq 2 ] || fail "second sign did not ask again: $(cat "$T/prompts")"

# Cancel and a wrong PIN refuse, and the agent serves on.
touch "$T/cancel"
ysign p 2>/dev/null && fail "cancelled dialog signed"
grep -q "ssh sign with 'p' .* refused: $T/askpass did not return a PIN (cancelled)" "$T/agent.log" ||
	fail "cancel not logged: $(tail -3 "$T/agent.log")"
rm "$T/cancel"
printf '9999\n' >"$T/answer"
ysign p 2>/dev/null && fail "wrong PIN signed"
printf '1234\n' >"$T/answer"
ysign p 2>"$T/err" || fail "sign after a wrong PIN: $(cat "$T/err")"
verify

# A dialog left open: others are served meanwhile, a second PIN request is
# refused at once, and a client that gives up closes its dialog.
touch "$T/wait"
rm -f "$T/askpass.pid" "$T/file.sig"
ssh-keygen -q -Y sign -n file -f "$T/p.pub" "$T/file" </dev/null 2>/dev/null &
waiter=$!
for _ in $(seq 100); do [ -s "$T/askpass.pid" ] && break; sleep 0.05; done
[ -s "$T/askpass.pid" ] || fail "no dialog opened"
dialog=$(cat "$T/askpass.pid")
start=$(date +%s%N)
timeout 5 "$TPMID" list >/dev/null || fail "list waited for the dialog"
cp "$T/file" "$T/file2"
timeout 5 ssh-keygen -q -Y sign -n file -f "$T/free.pub" "$T/file2" </dev/null ||
	fail "a no-PIN ssh sign waited for the dialog"
rm -f "$T/file2.sig"
timeout 5 ssh-keygen -q -Y sign -n file -f "$T/p.pub" "$T/file2" </dev/null 2>/dev/null &&
	fail "a second dialog was opened (or a PIN sign succeeded without one)"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
log "others served in $elapsed ms while a dialog was open"
grep -q "refused: a PIN dialog is already open" "$T/agent.log" || fail "second dialog not refused"
kill "$waiter"
wait "$waiter" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$dialog" 2>/dev/null || break; sleep 0.05; done
kill -0 "$dialog" 2>/dev/null && fail "the dialog of a client that gave up is still open"
rm "$T/wait"
ysign p 2>"$T/err" || fail "sign after an abandoned dialog: $(cat "$T/err")"

# Another user's ssh opens no dialog (it could only pop up on the owner's
# screen); it is refused as without --askpass.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	stop_agent
	python3 - "$TPMID_STORE/p.json" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["tpmid"]["allowed_uids"] = [65534]
with open(p + ".tmp", "w") as f:
    json.dump(d, f, indent=2)
os.chmod(p + ".tmp", 0o600)
os.rename(p + ".tmp", p)
PY
	start_agent --askpass="$T/askpass"
	mkdir "$T/nobody"
	cp "$T/p.pub" "$T/file" "$T/nobody/"
	chmod 711 "$T" "$T/run" "$(dirname "$TPMID_SOCKET")"
	chmod 666 "$TPMID_SOCKET"
	chmod 777 "$T/nobody"
	chmod 644 "$T/nobody/p.pub" "$T/nobody/file"
	n=$(wc -l <"$T/prompts")
	"${PEER_ENV[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups -- env \
		HOME="$T/nobody" SSH_AUTH_SOCK="$TPMID_SOCKET" ssh-keygen -q -Y sign -n file \
		-f "$T/nobody/p.pub" "$T/nobody/file" </dev/null >"$T/out" 2>&1 &&
		fail "another user's sign succeeded without a PIN"
	grep -q "identity 'p' needs unlocking: run tpmid unlock p (ssh sign for uid 65534" \
		"$T/agent.log" || fail "another user's refusal: $(tail -3 "$T/agent.log") $(cat "$T/out")"
	[ "$(wc -l <"$T/prompts")" -eq "$n" ] || fail "another user's request opened a dialog"
fi
stop_agent

# Without --askpass: refused, no dialog, as before.
start_agent
n=$(wc -l <"$T/prompts")
ysign p 2>/dev/null && fail "signed without --askpass and without a held PIN"
[ "$(wc -l <"$T/prompts")" -eq "$n" ] || fail "a dialog opened without --askpass"
grep -q "identity 'p' needs unlocking" "$T/agent.log" || fail "no unlock advice logged"
stop_agent
pass "--askpass asks for the PIN per signature, cancels, refuses wrong PINs and second dialogs, never blocks others"
