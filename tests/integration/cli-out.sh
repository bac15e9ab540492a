#!/bin/bash
# --out never replaces a file without --force (issue 10, Lows): sign,
# pubkey, csr and export alike, in agent and direct mode. The check comes
# before a PIN is read or the TPM opened, so a refused run costs nothing;
# devices and pipes (/dev/null, /dev/stdout) are written as before.
. "$top_srcdir/tests/lib.sh"

start_swtpm
run_ok "$TPMID" keygen k
echo "data" >"$T/msg"
echo "keep me" >"$T/keep"

refused() { # WHAT FILE: the command failed, said so, left FILE alone
	[ "$rc" -eq 1 ] || fail "$1: exit $rc, want 1: $(cat "$T/err")"
	grep -q "$2 exists (use --force to replace it)" "$T/err" || fail "$1: $(cat "$T/err")"
	cmp -s "$2" "$T/keep" || fail "$1 replaced $2"
}

for mode in agent direct; do
	if [ "$mode" = agent ]; then start_agent; D=(); else stop_agent; D=(--direct); fi
	for cmd in "sign k --in $T/msg" "pubkey k" "csr k --subject CN=k" "export k --tss2"; do
		name=${cmd%% *}
		f="$T/$name.$mode"
		cp "$T/keep" "$f"
		# A PIN file that does not exist and a TPM that is not there: the
		# refusal must come first.
		rc=0
		"$TPMID" "${D[@]}" --tcti device:/nonexistent $cmd --out "$f" \
			$( [ "$name" = pubkey ] || [ "$name" = export ] || echo --pin-file "$T/nopin") \
			2>"$T/err" || rc=$?
		if [ "$mode" = direct ]; then refused "$mode $name (checked first)" "$f"; fi
		rc=0; "$TPMID" "${D[@]}" $cmd --out "$f" 2>"$T/err" || rc=$?
		refused "$mode $name" "$f"
		ln -sf "$f" "$T/link"
		rc=0; "$TPMID" "${D[@]}" $cmd --out "$T/link" 2>"$T/err" || rc=$?
		[ "$rc" -eq 1 ] || fail "$mode $name through a symlink: exit $rc"
		cmp -s "$f" "$T/keep" || fail "$mode $name replaced $f through a symlink"
		run_ok "$TPMID" "${D[@]}" $cmd --out "$f" --force
		! cmp -s "$f" "$T/keep" || fail "$mode $name --force did not replace $f"
		run_ok "$TPMID" "${D[@]}" $cmd --out /dev/null
		run_ok "$TPMID" "${D[@]}" $cmd --out - >/dev/null
		rm -f "$T/new"
		run_ok "$TPMID" "${D[@]}" $cmd --out "$T/new"
		[ -s "$T/new" ] || fail "$mode $name wrote nothing to a new file"
	done
	openssl dgst -sha256 -verify "$T/pubkey.$mode" -signature "$T/sign.$mode" "$T/msg" >/dev/null ||
		fail "$mode: the --force'd signature does not verify"
done
pass "sign/pubkey/csr/export --out refuse an existing file (before PIN and TPM) unless --force"
