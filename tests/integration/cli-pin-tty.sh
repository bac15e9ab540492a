#!/bin/bash
# The PIN prompt on a terminal survives Ctrl-Z / fg without echoing (issue
# 10, Medium 10): after a stop and continue the PIN was echoed in clear.
# Now a stop gives the terminal back with echo on, and the continue turns
# echo off again and repeats the prompt, as readpassphrase(3) does. Driven
# through a pseudo-terminal; the PIN's process runs in a foreground process
# group of its own so that the stop is not discarded (POSIX discards
# terminal stops for orphaned process groups).
. "$top_srcdir/tests/lib.sh"
need python3 openssl

start_swtpm
printf '4711\n' >"$T/pin"
run_ok "$TPMID" --direct keygen p --pin-file "$T/pin"
echo data >"$T/msg"

python3 - "$TPMID" "$T" <<'PY' || fail "PIN prompt across a stop: see above"
import os, pty, select, signal, sys, termios, time
tpmid, T = sys.argv[1], sys.argv[2]

def echo_on(fd):
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)

def read_until(fd, want, timeout=10):
    buf, end = b"", time.time() + timeout
    while want not in buf and time.time() < end:
        if not select.select([fd], [], [], max(0, end - time.time()))[0]:
            break
        try:
            buf += os.read(fd, 4096)
        except OSError:
            break
    return buf

pid, master = pty.fork()
if pid == 0:
    # The session leader keeps the terminal; the PIN reader runs in its own
    # foreground group, whose parent (here) is in the same session.
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(0, os.getpgrp())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.execv(tpmid, [tpmid, "--direct", "sign", "p", "--pin", "--in", T + "/msg",
                         "--out", T + "/sig"])
    os.setpgid(child, child)
    while True:
        _, st = os.waitpid(child, os.WUNTRACED)
        if os.WIFSTOPPED(st):
            open(T + "/stopped", "w").close()
            # a job-control shell would take the terminal back here; the
            # test continues the job itself (fg)
            continue
        os._exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 99)

out = read_until(master, b"PIN for 'p': ")
assert b"PIN for 'p': " in out, out
time.sleep(0.2)
assert not echo_on(master), "echo is on at the prompt"
pgrp = os.tcgetpgrp(master)
os.write(master, b"47")          # half typed, then Ctrl-Z
time.sleep(0.2)
os.killpg(pgrp, signal.SIGTSTP)
for _ in range(100):
    if os.path.exists(T + "/stopped"):
        break
    time.sleep(0.05)
assert os.path.exists(T + "/stopped"), "the PIN reader did not stop"
time.sleep(0.2)
assert echo_on(master), "stopped with echo off: the shell's terminal would stay silent"
os.killpg(pgrp, signal.SIGCONT)
out = read_until(master, b"PIN for 'p': ")
assert b"PIN for 'p': " in out, ("no repeated prompt", out)
time.sleep(0.2)
assert not echo_on(master), "echo is on again after fg: the PIN would show"
os.write(master, b"4711\n")
out = read_until(master, b"\n", 5) + read_until(master, b"never", 2)
assert b"4711" not in out and b"11" not in out, ("PIN echoed", out)
_, st = os.waitpid(pid, 0)
assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, ("tpmid failed", st, out)
PY
"$TPMID" pubkey p >"$T/p.pem"
openssl dgst -sha256 -verify "$T/p.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "the signature made after the stop does not verify"
pass "Ctrl-Z at the PIN prompt restores echo; fg turns it off and asks again; nothing echoed"
