#!/usr/bin/env bash
# pkcs11-baseline.sh — the reference tpmid is compared against: an SSH key in a TPM through
# tpm2-pkcs11 (`ssh -I libtpm2_pkcs11.so`, PIN per connection), on a private software TPM.
#
#   pkcs11-baseline.sh setup DIR               swtpm + session D-Bus + tpm2-abrmd + token/key;
#                                              writes DIR/env and DIR/id_p11.pub
#   pkcs11-baseline.sh login DIR PORT USER N   N logins to an sshd already on 127.0.0.1:PORT
#                                              -> p11_ssh_login_ms_median=X
#   pkcs11-baseline.sh signbench DIR N         builds and runs p11bench (N x C_Sign)
#                                              -> setup_ms=… per_sign_ms=… signs_per_s=…
#   pkcs11-baseline.sh teardown DIR            stops what setup started, by PID
#
# With P11_TPMPROXY=PATH (tests/tpmproxy), tpm2-abrmd reaches the swtpm through that proxy,
# so a caller can count the commands and model a hardware TPM's latency (its control port is
# P11_PROXY_CONTROL in DIR/env).
#
# DIR is a temp dir owned by the caller. Everything listens on 127.0.0.1 or on a unix socket
# inside DIR. Needs: swtpm, tpm2-abrmd, libtss2-tcti-tabrmd0 (the client side of abrmd; not
# pulled in by tpm2-abrmd), libtss2-tcti-swtpm0, tpm2-tools, libtpm2-pkcs11-1,
# libtpm2-pkcs11-tools, dbus-daemon, openssh-client, python3, cc and libp11-kit-dev.
#
# Why tpm2-abrmd: tpm2_ptool leaks transient objects and fails with 0x902 ("out of memory for
# object contexts") when it talks straight to swtpm. abrmd wants a D-Bus bus; we run our own
# session bus so that neither the system bus nor root-only policy is involved.
set -euo pipefail

MODULE=${P11_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
PIN=1234
SOPIN=bench-sopin
KEY_LABEL=sshkey
BENCH_REF_DIR=${BENCH_REF_DIR:-"$(dirname "$0")/../../shared/bench"}

die() { echo "pkcs11-baseline: $*" >&2; exit 1; }
usage() { sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# An even port P with P and P+1 both free on 127.0.0.1 (swtpm: P = TPM commands, P+1 = control).
free_port_pair() {
    python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(10000, 32000, 2)  # below the ephemeral port range
    socks = []
    try:
        for q in (p, p + 1):
            s = socket.socket(); socks.append(s); s.bind(("127.0.0.1", q))
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(p); break
else:
    raise SystemExit("no free port pair")
EOF
}

# A process that exists and is not a zombie.
alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# Stop one daemon by the PID in DIR/NAME.pid, only if that PID still runs the expected program.
stop_pid() {
    local f=$1/$2.pid comm=$3 pid
    [[ -s $f ]] || return 0
    pid=$(<"$f")
    if [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$comm" ]]; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done   # up to 5 s
        if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
}

teardown() {
    # reverse start order: abrmd holds the swtpm connection and a name on the bus
    stop_pid "$1" abrmd tpm2-abrmd
    stop_pid "$1" dbus dbus-daemon
    stop_pid "$1" proxy python3
    stop_pid "$1" swtpm swtpm
}

on_setup_exit() { if [[ $1 -ne 0 ]]; then teardown "$SETUP_DIR"; fi; }

setup() {
    local dir=$1 port i
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    [[ ! -e $dir/p11store ]] || die "$dir was already used; setup needs a fresh dir"
    # on any failure, stop whatever was already started
    SETUP_DIR=$dir
    trap 'on_setup_exit $?' EXIT
    mkdir -p "$dir/swtpm" "$dir/p11store"

    # 1. swtpm on a free port pair; retry if another process grabs the port meanwhile.
    for i in 1 2 3 4 5; do
        port=$(free_port_pair)
        swtpm socket --tpm2 \
            --server type=tcp,port="$port",bindaddr=127.0.0.1 \
            --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
            --tpmstate dir="$dir/swtpm" --flags not-need-init,startup-clear \
            >"$dir/swtpm.log" 2>&1 &
        echo $! >"$dir/swtpm.pid"
        for _ in $(seq 50); do   # wait until it accepts connections (or has died)
            kill -0 "$(<"$dir/swtpm.pid")" 2>/dev/null || break
            (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break 2
            sleep 0.1
        done
        stop_pid "$dir" swtpm swtpm
    done
    [[ -s $dir/swtpm.pid ]] || die "swtpm did not start: $(cat "$dir/swtpm.log")"

    # 2. A private D-Bus bus. Its policy must let tpm2-abrmd own com.intel.tss2.Tabrmd (the
    #    stock system-bus policy only allows user tss); here everything is allowed, which is
    #    what the stock session.conf does too. The socket lives in DIR, not in /tmp.
    cat >"$dir/dbus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/dbus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
    dbus-daemon --config-file="$dir/dbus.conf" --fork --nopidfile \
        --print-address=3 --print-pid=4 3>"$dir/dbus.addr" 4>"$dir/dbus.pid"
    local bus; bus=$(head -n1 "$dir/dbus.addr")
    [[ -n $bus && -s $dir/dbus.pid ]] || die "dbus-daemon did not start"
    export DBUS_SESSION_BUS_ADDRESS=$bus

    # 2b. Optionally the TPM proxy in between (P11_TPMPROXY): listens on Q, Q+1, control Q+2.
    local tpmport=$port proxyctl=""
    if [[ -n ${P11_TPMPROXY:-} ]]; then
        local q
        for i in 1 2 3 4 5; do
            q=$(free_port_pair)
            (exec 9<>"/dev/tcp/127.0.0.1/$((q + 2))") 2>/dev/null && continue
            python3 "$P11_TPMPROXY" --listen "$q" --tpm "$port" --control $((q + 2)) \
                --log "$dir/tpmproxy.log" >"$dir/tpmproxy.err" 2>&1 &
            echo $! >"$dir/proxy.pid"
            for _ in $(seq 50); do
                (exec 9<>"/dev/tcp/127.0.0.1/$((q + 2))") 2>/dev/null && break 2
                kill -0 "$(<"$dir/proxy.pid")" 2>/dev/null || break
                sleep 0.1
            done
            stop_pid "$dir" proxy python3
        done
        [[ -s $dir/proxy.pid ]] || die "tpmproxy did not start: $(cat "$dir/tpmproxy.err")"
        tpmport=$q proxyctl=$((q + 2))
    fi

    # 3. tpm2-abrmd on that bus, talking to our swtpm. --allow-root: it refuses root otherwise.
    local root=(); [[ $EUID -ne 0 ]] || root=(--allow-root)
    tpm2-abrmd --session "${root[@]}" --flush-all --logger=stdout \
        --tcti="swtpm:host=127.0.0.1,port=$tpmport" >"$dir/abrmd.log" 2>&1 &
    echo $! >"$dir/abrmd.pid"

    # Clients reach abrmd through the "tabrmd" TCTI (libtss2-tcti-tabrmd0). Without the
    # bus_type=session option it looks on the system bus. tpm2_ptool runs tpm2-tools and
    # tpm2-pytss, both read TPM2TOOLS_TCTI; libtpm2_pkcs11.so reads TPM2_PKCS11_TCTI (if unset it
    # uses the tctildr default search, which would miss our private bus and port).
    export TPM2TOOLS_TCTI=tabrmd:bus_type=session TPM2_PKCS11_TCTI=tabrmd:bus_type=session
    export TPM2_PKCS11_STORE=$dir/p11store   # else /etc/tpm2_pkcs11 or ~/.tpm2_pkcs11
    for i in $(seq 50); do   # wait until abrmd owns its name and reaches the TPM
        tpm2_getrandom 8 >/dev/null 2>&1 && break
        kill -0 "$(<"$dir/abrmd.pid")" 2>/dev/null || die "tpm2-abrmd died: $(cat "$dir/abrmd.log")"
        sleep 0.1
    done
    [[ $i -lt 50 ]] || die "tpm2-abrmd not reachable: $(cat "$dir/abrmd.log")"

    # 4. Store, token and an ECDSA P-256 key, as the tpm2-pkcs11 SSH docs do it.
    #    (`init` makes a persistent primary key, 0x81000001, in this swtpm only.)
    tpm2_ptool init --path "$dir/p11store" >/dev/null
    tpm2_ptool addtoken --path "$dir/p11store" --pid=1 --label=bench \
        --sopin="$SOPIN" --userpin="$PIN" >/dev/null
    tpm2_ptool addkey --path "$dir/p11store" --label=bench --key-label="$KEY_LABEL" \
        --userpin="$PIN" --algorithm=ecc256 >/dev/null

    # 5. Public key for authorized_keys (public objects: no PIN needed).
    local pub; pub=$(ssh-keygen -D "$MODULE") || die "ssh-keygen -D $MODULE failed"
    grep -m1 '^ecdsa-sha2-nistp256 ' <<<"$pub" >"$dir/id_p11.pub" ||
        die "ssh-keygen -D found no ECDSA key in the token"

    # 6. Askpass helper: ssh -I asks for the PIN through it (see login).
    printf '#!/bin/sh\necho %s\n' "$PIN" >"$dir/askpass"
    chmod 700 "$dir/askpass"

    {
        for v in DBUS_SESSION_BUS_ADDRESS TPM2TOOLS_TCTI TPM2_PKCS11_TCTI TPM2_PKCS11_STORE; do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
        printf 'export P11_MODULE=%q P11_PIN=%q P11_SWTPM_PORT=%q\n' "$MODULE" "$PIN" "$port"
        printf 'P11_SWTPM_PID=%q P11_DBUS_PID=%q P11_ABRMD_PID=%q\n' \
            "$(<"$dir/swtpm.pid")" "$(<"$dir/dbus.pid")" "$(<"$dir/abrmd.pid")"
        printf 'P11_PROXY_CONTROL=%q P11_PROXY_PID=%q\n' "$proxyctl" \
            "$(cat "$dir/proxy.pid" 2>/dev/null || true)"
    } >"$dir/env"
}

login() {
    local dir=$1 port=$2 user=$3 n=$4 i t0 t1
    [[ -s $dir/env ]] || die "$dir/env missing (run setup first)"
    # shellcheck disable=SC1091
    . "$dir/env"
    # - The PIN: ssh asks through SSH_ASKPASS; SSH_ASKPASS_REQUIRE=force uses it even without
    #   DISPLAY, setsid -w detaches from any terminal so nothing is read from /dev/tty.
    # - BatchMode must stay "no": with BatchMode=yes ssh never asks for the PIN ("pin required").
    # - IdentitiesOnly=yes drops PKCS#11 keys unless an IdentityFile has the same public key,
    #   so IdentityFile=DIR/id_p11 (only DIR/id_p11.pub exists) selects the token key and keeps
    #   ~/.ssh keys and any agent (IdentityAgent=none) out of the measurement.
    local ssh=(setsid -w env SSH_ASKPASS="$dir/askpass" SSH_ASKPASS_REQUIRE=force
        ssh -F none -I "$P11_MODULE" -p "$port"
        -o BatchMode=no -o IdentitiesOnly=yes -o IdentityFile="$dir/id_p11" -o IdentityAgent=none
        -o PreferredAuthentications=publickey -o StrictHostKeyChecking=accept-new
        -o UserKnownHostsFile="$dir/known_hosts" -o ConnectTimeout=10 -o LogLevel=ERROR
        "$user@127.0.0.1" true)
    : >"$dir/login_ms"
    for ((i = 0; i < n; i++)); do
        t0=$(date +%s%N)
        "${ssh[@]}" </dev/null >/dev/null 2>"$dir/login.err" ||
            die "ssh login $((i + 1)) failed: $(cat "$dir/login.err")"
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) >>"$dir/login_ms"   # microseconds
    done
    sort -n "$dir/login_ms" | awk '{v[NR] = $1}
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "p11_ssh_login_ms_median=%.1f\n", m / 1000 }'
}

signbench() {
    local dir=$1 n=$2
    [[ -s $dir/env ]] || die "$dir/env missing (run setup first)"
    # shellcheck disable=SC1091
    . "$dir/env"
    "${CC:-cc}" -O2 -o "$dir/p11bench" "$BENCH_REF_DIR/p11bench.c" -ldl
    "$dir/p11bench" "$P11_MODULE" "$P11_PIN" "$n" "$KEY_LABEL"
}

num() { [[ $1 =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $1"; }

case ${1:-} in
setup)     [[ $# -eq 2 ]] || usage; setup "$2" ;;
login)     [[ $# -eq 5 ]] || usage; num "$3"; num "$5"; login "$2" "$3" "$4" "$5" ;;
signbench) [[ $# -eq 3 ]] || usage; num "$3"; signbench "$2" "$3" ;;
teardown)  [[ $# -eq 2 ]] || usage; teardown "$2"; rm -f "$2/env" ;;
*) usage ;;
esac
