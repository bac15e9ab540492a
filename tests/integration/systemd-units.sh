#!/bin/bash
# The systemd files that 'make install' installs work with what it installs:
# `make install DESTDIR=$T/root` with the configured prefix, then
#  - ExecStart= of the user and the system tpmid-agent.service is
#    BINDIR/tpmid-agent, and that file is installed and executable; no
#    @variable@ is left, Documentation= is under DOCDIR;
#  - sysusers.d/tpmid.conf and tmpfiles.d/tpmid.conf are installed and,
#    applied to $T/root, make what the system units and the agent's
#    --system defaults need: user and group tpmid, the socket's directory
#    /run/tpmid 0750 tpmid:tpmid, the store /var/lib/tpmid 0700 tpmid;
#  - systemd-analyze verify accepts the units.
#
# What systemd-analyze (systemd 252, Debian 12) can check here, in a
# container where systemd is not PID 1:
#  - `verify --root=$T/root` loads the system units as a system manager
#    would from that tree, with their dependencies (sysinit.target and the
#    like, copied in from the host), and checks that each Exec*= command
#    exists and is executable inside the root: it is what rejects the old
#    hard-coded /usr/bin/tpmid-agent. Inside the root it finds units only on
#    systemd's search path, so units installed elsewhere (make distcheck's
#    prefix) are verified from a copy in the root's /etc/systemd/system.
#    It exits 0 after an unknown key or a bad value (it only prints them),
#    so any output fails this test.
#  - `security --offline=yes --root=...` scores the system service's
#    sandboxing; the test holds it at 1.5 or better (0.9 when written).
#  - The user manager takes no --root ("Failed to initialize unit search
#    paths"), so the user units are verified without it, from a copy whose
#    ExecStart= points into $T/root; their ExecStart= path itself is checked
#    by this script.
# Not checked here: that the units start (no running systemd, no
# /dev/tpmrm0), and User=/Group=/SupplementaryGroups= (verify does not look
# users up; the sysusers check below covers tpmid).
. "$top_srcdir/tests/lib.sh"
need make sed stat systemd-analyze systemd-sysusers systemd-tmpfiles

R="$T/root"
# make on the build tree as a person would run it, not as part of the make
# that runs this test (no inherited -j, -n or TESTS=).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$top_builddir" "$@"; }

# The configured directories, as make expands them.
vars="bindir docdir systemduserunitdir systemdsystemunitdir sysusersdir tmpfilesdir"
{
	printf 'tpmid-print-dirs:\n'
	for v in $vars; do printf '\t@echo "%s=$(%s)"\n' "$v" "$v"; done
} >"$T/print-dirs.mk"
mk -s -f Makefile -f "$T/print-dirs.mk" tpmid-print-dirs >"$T/dirs" 2>"$T/err" ||
	fail "cannot read the configured directories: $(cat "$T/err")"
dir() {
	d=$(sed -n "s|^$1=||p" "$T/dirs")
	case $d in /*) printf '%s\n' "$d" ;; *) fail "$1 is '$d', not an absolute path" ;; esac
}
bindir=$(dir bindir)
docdir=$(dir docdir)

mk install DESTDIR="$R" >"$T/install.log" 2>&1 || fail "make install DESTDIR=$R failed"
agent="$R$bindir/tpmid-agent"
[ -f "$agent" ] && [ -x "$agent" ] || fail "make install did not install $bindir/tpmid-agent"

# val FILE KEY: the values of KEY= in a unit file, one a line.
val() { sed -n "s|^$2=||p" "$1"; }

# --- both flavours: paths follow the configured prefix --------------------
for scope in user system; do
	ud=$(dir "systemd${scope}unitdir")
	for u in tpmid-agent.service tpmid-agent.socket; do
		[ -f "$R$ud/$u" ] || fail "$scope unit $ud/$u not installed"
		if grep -En '@[A-Za-z_]+@' "$R$ud/$u" >"$T/err"; then
			fail "$scope $u: left unsubstituted: $(cat "$T/err")"
		fi
		for doc in $(val "$R$ud/$u" Documentation); do
			case $doc in
			file://"$docdir"/*) ;;
			file://*) fail "$scope $u: Documentation=$doc is not under $docdir" ;;
			esac
		done
	done
	exec=$(val "$R$ud/tpmid-agent.service" ExecStart | cut -d' ' -f1)
	[ "$exec" = "$bindir/tpmid-agent" ] ||
		fail "$scope tpmid-agent.service: ExecStart=$exec, but tpmid-agent is installed as $bindir/tpmid-agent"
	pass "$scope units in $ud: ExecStart=$exec (installed, executable)"
done

# --- system flavour: user, group and directories --------------------------
sud=$(dir systemdsystemunitdir)
svc="$R$sud/tpmid-agent.service"
sock="$R$sud/tpmid-agent.socket"
sysusers="$R$(dir sysusersdir)/tpmid.conf"
tmpfiles="$R$(dir tmpfilesdir)/tpmid.conf"
[ -f "$sysusers" ] || fail "$(dir sysusersdir)/tpmid.conf not installed"
[ -f "$tmpfiles" ] || fail "$(dir tmpfilesdir)/tpmid.conf not installed"

# What the units and the agent expect.
[ "$(val "$svc" User)" = tpmid ] && [ "$(val "$svc" Group)" = tpmid ] ||
	fail "system service: User=/Group= are not tpmid"
listen=$(val "$sock" ListenStream)
rundir=${listen%/*}
[ "$(val "$sock" SocketGroup)" = tpmid ] && [ "$(val "$sock" SocketMode)" = 0660 ] &&
	[ "$(val "$sock" DirectoryMode)" = 0750 ] ||
	fail "system socket: want SocketGroup=tpmid SocketMode=0660 DirectoryMode=0750"
store=/var/lib/$(val "$svc" StateDirectory)
[ "$(val "$svc" StateDirectoryMode)" = 0700 ] || fail "system service: StateDirectoryMode is not 0700"
val "$svc" Environment | grep -qx "TPMID_STORE=$store" ||
	fail "system service: TPMID_STORE is not its StateDirectory $store"
# The agent's --system defaults (its --help names them) are the same paths.
"$agent" --help >"$T/help" 2>&1 || fail "tpmid-agent --help failed"
grep -qF "$listen" "$T/help" || fail "the unit listens on $listen, not the agent's --system socket"
grep -qF "$store" "$T/help" || fail "the unit's store $store is not the agent's --system store"

mkdir -p "$R/etc"
systemd-sysusers --root="$R" "$sysusers" >"$T/sysusers.log" 2>&1 ||
	fail "systemd-sysusers --root rejected $sysusers"
pw=$(grep '^tpmid:' "$R/etc/passwd") || fail "sysusers made no user tpmid"
uid=$(echo "$pw" | cut -d: -f3)
gid=$(sed -n 's/^tpmid:[^:]*:\([0-9]*\):.*/\1/p' "$R/etc/group")
[ -n "$gid" ] || fail "sysusers made no group tpmid"
[ "$(echo "$pw" | cut -d: -f4)" = "$gid" ] || fail "user tpmid's group is not tpmid"
[ "$(echo "$pw" | cut -d: -f6)" = "$store" ] || fail "user tpmid's home is not $store: $pw"
grep -Eq '^tss:[^:]*:[0-9]+:(.*,)?tpmid(,|$)' "$R/etc/group" || fail "user tpmid is not in group tss"
pass "sysusers: tpmid uid $uid gid $gid, home $store, in group tss"

if [ "$(id -u)" -eq 0 ]; then
	systemd-tmpfiles --root="$R" --create "$tmpfiles" >"$T/tmpfiles.log" 2>&1 ||
		fail "systemd-tmpfiles --root --create failed on $tmpfiles"
	got=$(stat -c '%F %a %u %g' "$R$rundir" 2>/dev/null || echo missing)
	[ "$got" = "directory 750 $uid $gid" ] ||
		fail "$rundir: $got, want directory 750 $uid $gid (tpmid:tpmid)"
	got=$(stat -c '%F %a %u' "$R$store" 2>/dev/null || echo missing)
	[ "$got" = "directory 700 $uid" ] || fail "$store: $got, want directory 700 $uid (tpmid)"
	pass "tmpfiles: $rundir 0750 tpmid:tpmid, $store 0700 tpmid"
else
	log "not root: systemd-tmpfiles cannot chown, its result is not checked"
fi

# --- systemd-analyze verify -----------------------------------------------
# The rest of a system that make install does not provide: the targets the
# units depend on, and the commands they run that are not ours.
[ -d /usr/lib/systemd/system ] && [ -d /usr/lib/systemd/user ] ||
	fail "no /usr/lib/systemd/{system,user}: install the Debian package systemd"
mkdir -p "$R/etc/systemd/system"
cp /usr/lib/systemd/system/*.target "$R/etc/systemd/system/"
sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$R$sud/tpmid-agent.service" \
	"$R$(dir systemduserunitdir)/tpmid-agent.service" | sort -u >"$T/commands"
while read -r cmd; do
	case $cmd in */tpmid-agent | */tpmid) continue ;; esac
	[ -e "$R$cmd" ] && continue
	[ -x "$cmd" ] || fail "the units run $cmd, which this machine does not have"
	mkdir -p "$R${cmd%/*}"
	cp "$cmd" "$R$cmd"
done <"$T/commands"

vdir=$sud
if ! systemd-analyze unit-paths | grep -qxF "$sud"; then
	vdir=/etc/systemd/system
	cp "$R$sud/tpmid-agent.service" "$R$sud/tpmid-agent.socket" "$R$vdir/"
	log "$sud is not on systemd's unit path: verifying a copy in $vdir"
fi
set +e
systemd-analyze verify --root="$R" --man=no --generators=no \
	"$vdir/tpmid-agent.socket" "$vdir/tpmid-agent.service" >"$T/verify-system.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] && [ ! -s "$T/verify-system.log" ] ||
	fail "systemd-analyze verify --root: system units (exit $rc): $(cat "$T/verify-system.log")"
pass "systemd-analyze verify --root: system units"

systemd-analyze security --offline=yes --root="$R" --threshold=15 --no-pager \
	"$vdir/tpmid-agent.service" >"$T/security.log" 2>&1 ||
	fail "systemd-analyze security: system service exposure above 1.5: $(grep -i overall "$T/security.log")"
pass "systemd-analyze security: $(grep -io 'overall exposure level.*' "$T/security.log")"

mkdir "$T/user-units"
uud=$(dir systemduserunitdir)
cp "$R$uud/tpmid-agent.socket" "$T/user-units/"
exec=$(val "$R$uud/tpmid-agent.service" ExecStart | cut -d' ' -f1)
while IFS= read -r line; do
	case $line in ExecStart="$exec"*) line="ExecStart=$R$exec${line#ExecStart="$exec"}" ;; esac
	printf '%s\n' "$line"
done <"$R$uud/tpmid-agent.service" >"$T/user-units/tpmid-agent.service"
set +e
systemd-analyze verify --user --man=no --generators=no \
	"$T/user-units/tpmid-agent.socket" "$T/user-units/tpmid-agent.service" >"$T/verify-user.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] && [ ! -s "$T/verify-user.log" ] ||
	fail "systemd-analyze verify --user: user units (exit $rc): $(cat "$T/verify-user.log")"
pass "systemd-analyze verify --user: user units (ExecStart= pointed into DESTDIR)"
