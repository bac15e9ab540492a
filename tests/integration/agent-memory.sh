#!/bin/bash
# After `tpmid lock`, no copy of a PIN is left in the agent's memory
# (issue 9, Low): it used to stay in OpenSSL's HMAC context of the PIN
# session (the key sessionKey || PIN, kept for the next sign). The test
# unlocks a PIN key, signs with the held PIN and with one sent along, locks,
# and searches every readable mapping of the agent for the PIN's bytes.
. "$top_srcdir/tests/lib.sh"
need python3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root to read the agent's memory" >&2; exit 77; }

start_swtpm
pin="tpmid-pin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$pin" >"$T/pin"
run_ok "$TPMID" --direct keygen p --pin-file "$T/pin"
head -c 64 /dev/urandom >"$T/msg"
start_agent

# count_pin: occurrences of the PIN in the agent's readable memory.
count_pin() {
	python3 - "$AGENT_PID" "$pin" <<'EOF'
import re, sys
pid, needle = sys.argv[1], sys.argv[2].encode()
n = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if not perms.startswith("r") or "[vvar]" in line or "[vsyscall]" in line:
            continue
        lo, hi = (int(x, 16) for x in addr.split("-"))
        # Sanitizer shadow and allocator reserves are terabytes of
        # untouched pages: the heap and stacks are far smaller.
        if hi - lo > 1 << 30:
            continue
        tail = b""
        try:
            mem.seek(lo)
            while lo < hi:
                chunk = mem.read(min(1 << 20, hi - lo))
                if not chunk:
                    break
                n += (tail + chunk).count(needle)
                tail = chunk[-(len(needle) - 1):]
                lo += len(chunk)
        except (OSError, OverflowError, ValueError):
            pass
print(n)
EOF
}

run_ok "$TPMID" unlock p --pin-file "$T/pin"
run_ok "$TPMID" sign p --in "$T/msg" --out "$T/sig1"
run_ok "$TPMID" sign p --pin-file "$T/pin" --in "$T/msg" --out "$T/sig2"
held=$(count_pin)
[ "$held" -ge 1 ] || fail "the scan does not find the held PIN (test broken?)"
run_ok "$TPMID" lock p
left=$(count_pin)
[ "$left" -eq 0 ] || fail "$left cop$([ "$left" -eq 1 ] && echo y || echo ies) of the PIN left in the agent's memory after lock"
stop_agent
pass "the PIN is in the agent's memory while held ($held) and nowhere after lock"
