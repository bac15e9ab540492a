#!/bin/sh
# Install what tpmid needs on Debian 12, with apt-get (via sudo when not root).
#
#   contrib/install-deps.sh [--build | --test] [--list]
#
# --build  what building tpmid and running ./quickstart need (./quickstart
#          uses this list): the compiler and autotools, the libraries, and
#          the three programs the quickstart job runs (swtpm, openssl,
#          ssh-add). No server, no daemon that starts on install.
# --test   (the default) that plus everything the test suite, the fuzzing
#          run and the benchmark use: ./run-tests --install-deps and CI.
#          This installs openssh-server, whose package starts sshd on port
#          22, tpm2-abrmd, and mosquitto, whose package starts a broker on
#          port 1883 (loopback only: Debian's configuration has no listener).
# --list   print the packages, one a line, and install nothing.
# Packages already installed are not asked for again; when all are there,
# apt-get is not run at all.
set -eu

# Build and run (./quickstart). Each one is needed:
#   build-essential autoconf automake libtool pkg-config  compile, ./bootstrap
#   libtss2-dev libssl-dev libjson-c-dev  the libraries configure requires
#       (libtss2-dev brings the device and swtpm TCTIs)
#   libp11-kit-dev  pkcs11.h for the PKCS#11 module (--disable-pkcs11: not)
#   swtpm           the quickstart's TPM when there is no /dev/tpmrm0
#   openssl         the quickstart verifies the signature and the CSR
#   openssh-client  ssh-add -L lists the key as ssh sees it
build_pkgs="build-essential autoconf automake libtool pkg-config
 libtss2-dev libssl-dev libjson-c-dev libp11-kit-dev
 swtpm openssl openssh-client"

# Tests only (make check, run-tests, make bench). What uses each one:
#   libcmocka-dev   the unit tests (configure --disable-tests without it)
#   git             ssh-sign-git.sh
#   swtpm-tools     swtpm_setup, swtpm_localca (tpm-ek.sh; brings gnutls-bin)
#   tpm2-tools      the harness's leak check (tpm2_getcap) and tpm2_* in tests
#   tpm2-openssl    cli-openssl.sh, cli-import.sh (openssl -provider tpm2)
#   tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon  rm-tabrmd.sh, make bench
#   libtpm2-pkcs11-1 libtpm2-pkcs11-tools  make bench's tpm2-pkcs11
#                   baseline (bench/pkcs11-baseline.sh)
#   opensc gnutls-bin  pkcs11-tool and p11tool drive the PKCS#11 module
#                   (pkcs11-tool.sh, pkcs11-container.sh; gnutls-bin also
#                   comes with swtpm-tools; ssh -I, ssh-add -s, ssh-agent's
#                   ssh-pkcs11-helper come with openssh-client: pkcs11-ssh.sh)
#   libengine-pkcs11-openssl mosquitto mosquitto-clients  libp11's engine
#                   loads the PKCS#11 module into openssl req/s_client and
#                   mosquitto_pub, which publish to a mosquitto broker
#                   (pkcs11-openssl.sh)
#   openssh-server  sshd for ssh-login.sh, ssh-hostkey.sh, pkcs11-ssh.sh
#   clang libclang-rt-14-dev  the libFuzzer targets (run-tests)
#   python3         tests/tpmproxy; JSON edits and a user namespace in tests
#   util-linux procps iproute2  setpriv, runuser, setsid, flock, unshare;
#                   pkill; ip
#   mount           mount (tmpfs, --bind) in pkcs11-container.sh's container
#   systemd         systemd-analyze, -sysusers, -tmpfiles (systemd-units.sh)
#   groff-base      renders the man pages (docs-man.sh)
test_pkgs="libcmocka-dev git swtpm-tools tpm2-tools tpm2-openssl
 tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon
 libtpm2-pkcs11-1 libtpm2-pkcs11-tools opensc gnutls-bin
 libengine-pkcs11-openssl mosquitto mosquitto-clients
 openssh-server clang libclang-rt-14-dev python3
 util-linux procps iproute2 mount systemd groff-base"

# The comment at the top, up to the first line of code.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

what="test" list=0
for a in "$@"; do
	case $a in
	--build) what=build ;;
	--test) what="test" ;;
	--list) list=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "install-deps.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
	esac
done

pkgs=$build_pkgs
[ "$what" = build ] || pkgs="$pkgs $test_pkgs"

if [ "$list" = 1 ]; then
	for p in $pkgs; do echo "$p"; done
	exit 0
fi

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' ||
		missing="$missing $p"
done
[ -n "$missing" ] || exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
