#!/bin/sh
# Install everything tpmid needs to build, run and be tested on Debian 12.
set -eu
pkgs="build-essential autoconf automake libtool pkg-config git
 libtss2-dev libssl-dev libjson-c-dev libcmocka-dev
 swtpm swtpm-tools tpm2-tools tpm2-openssl tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon libtpm2-pkcs11-1 libtpm2-pkcs11-tools
 openssh-client openssh-server openssl opensc gnutls-bin libp11-kit-dev
 clang libclang-rt-14-dev python3 util-linux procps iproute2 groff-base
 systemd"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
