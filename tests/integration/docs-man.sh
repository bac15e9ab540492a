#!/bin/bash
# The man pages keep up with the programs. The CLI grows commands and
# options; this test is what says that one is not documented, and where:
#  - every command `tpmid --help` lists has a '.Ss COMMAND' subsection under
#    '.Sh COMMANDS' in doc/tpmid.1, and that section documents no command
#    the program does not have;
#  - every option of `tpmid COMMAND --help` (its usage lines and its option
#    lines) has an '.It' entry naming it in that subsection's option list
#    and is in the subsection's synopsis (the lines before its first '.Pp');
#    an '.It' entry there naming an option the command does not have fails
#    too;
#  - the global options of `tpmid --help` have '.It' entries in DESCRIPTION
#    and are in the SYNOPSIS;
#  - the same for `tpmid-agent --help` against doc/tpmid-agent.8 (short and
#    long spellings in the '.It' heads; either one in the SYNOPSIS);
#  - both pages render with groff at the usual 80 columns without a single
#    warning (-ww: every troff warning, and mdoc's own diagnostics).
# Options are compared as rendered (groff -Tascii), so '.Fl -curve',
# '\-\-curve' or an '.It Xo' head all count. --help and --version of a
# command need no entry of their own: DESCRIPTION says every command takes
# --help. Everything is read from $top_srcdir, so it runs under distcheck.
. "$top_srcdir/tests/lib.sh"
need groff awk sed sort

MAN1=doc/tpmid.1
MAN8=doc/tpmid-agent.8
for f in "$MAN1" "$MAN8"; do
	[ -f "$top_srcdir/$f" ] || fail "$top_srcdir/$f is missing"
done

problems=()
problem() { problems+=("$*"); }

# --- reading the programs' --help --------------------------------------

# help_text PROGRAM ARGS...: its --help (exit 0 and some text, or fail).
help_text() {
	local out
	out=$("$@" 2>&1) || fail "'$*' failed: $out"
	[ -n "$out" ] || fail "'$*' printed nothing"
	printf '%s\n' "$out"
}

# help_commands: the command names under "Commands:" in tpmid --help.
help_commands() {
	awk '/^Commands:/ { c = 1; next } c && /^[[:space:]]*$/ { exit }
		c && /^[[:space:]]+[a-z]/ { print $1 }'
}

# help_option_groups: one line per option of a --help text (stdin), the
# spellings of one option separated by spaces ("-f --foreground"):
#  - an option line (indented, starting with '-') gives its leading
#    options, up to the first word that is neither an option nor a
#    metavariable (upper case, as FILE or CA.pem), so "--pin, --pin-file F,
#    --pin-stdin" gives three;
#  - the usage lines (from "usage:" to the first blank line) give every
#    --option they name, each on its own.
help_option_groups() {
	awk '
	function opt(w) {
		sub(/,$/, "", w); sub(/\[?=.*$/, "", w); sub(/\[$/, "", w)
		return w
	}
	tolower($0) ~ /^usage:/ { u = 1 }
	u && /^[[:space:]]*$/ { u = 0 }
	u {
		s = $0
		while (match(s, /--[A-Za-z0-9][A-Za-z0-9-]*/)) {
			w = substr(s, RSTART, RLENGTH)
			if (!(w in used)) { used[w] = 1; nu++; usage[nu] = w }
			s = substr(s, RSTART + RLENGTH)
		}
		next
	}
	/^[[:space:]]+-/ {
		g = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^-/) {
				w = opt($i)
				if (w ~ /^--?[A-Za-z0-9]/ && !(w in grouped)) {
					grouped[w] = 1
					g = g (g == "" ? "" : " ") w
				}
			} else if ($i !~ /^[A-Z]/) {
				break
			}
		}
		if (g != "") print g
	}
	END { for (i = 1; i <= nu; i++) if (!(usage[i] in grouped)) print usage[i] }'
}

# help_line TEXT OPTION: the option line of a --help text that describes
# OPTION (an indented line starting with '-'), else the first line naming it.
help_line() {
	{ printf '%s\n' "$1" | grep -E '^[[:space:]]+-' |
		grep -m1 -E -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|$)" ||
		printf '%s\n' "$1" | grep -m1 -E -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|$)"; } |
		sed 's/^[[:space:]]*//'
}

# squeeze TEXT: TEXT with each run of blanks made one space, for messages.
squeeze() {
	printf '%s\n' "$1" | sed 's/[[:space:]][[:space:]]*/ /g'
}

# --- reading the pages ----------------------------------------------------

# page_header FILE: the prologue (.Dd, .Dt, .Os) a fragment renders under.
page_header() {
	grep -E '^\.(Dd|Dt|Os)( |$)' "$top_srcdir/$1"
}

# render FILE: render roff (mdoc) read from stdin, preceded by FILE's
# prologue, as plain ASCII with lines long enough never to wrap.
render() {
	{
		page_header "$1"
		printf '.Sh X\n'
		cat
	} | groff -mdoc -Tascii -P-cbou -rLL=1000n 2>/dev/null | sed 's/[[:space:]]*$//'
}

# section FILE SH [SS]: the source lines of section SH (".Sh SH" up to the
# next .Sh), or of its subsection SS (".Ss SS" up to the next .Ss or .Sh),
# without the heading line. Empty output: no such (sub)section.
section() {
	awk -v sh="$2" -v ss="${3:-}" '
	/^\.Sh / { insh = (substr($0, 5) == sh); inss = 0; if (insh && ss == "") { found = 1; next } }
	/^\.Ss / && insh && ss != "" { inss = (substr($0, 5) == ss); if (inss) { found = 1; next } }
	insh && (ss == "" || inss) { print }' "$top_srcdir/$1"
}

# has_section FILE SH [SS]: true if the (sub)section's heading exists.
has_section() {
	if [ -n "${3:-}" ]; then
		section "$1" "$2" | grep -qxF ".Ss $3"
	else
		grep -qxF ".Sh $2" "$top_srcdir/$1"
	fi
}

# subsections FILE SH: the .Ss titles of section SH.
subsections() {
	section "$1" "$2" | sed -n 's/^\.Ss //p'
}

# item_heads FILE: the '.It' heads of a section's source (stdin), rendered,
# one a line (an '.It Xo' head runs to its '.Xc').
item_heads() {
	awk '
	x { print; if ($0 ~ /(^|[ .])Xc( |$)/) { x = 0; print "HEADEND" } ; next }
	/^\.It( |$)/ { print; if ($0 ~ / Xo( |$)/) x = 1; else print "HEADEND" }' |
		{
			printf '.Bl -ohang\n'
			sed 's/^HEADEND$/\\\&HEADEND/'
			printf '.El\n'
		} | render "$1" | grep -v -e '^X$' -e 'HEADEND' | sed 's/^[[:space:]]*//' | grep -v '^$' || true
}

# synopsis_of: the source (stdin) up to its first .Pp: a command's
# synopsis lines in tpmid.1.
synopsis_of() {
	awk '/^\.Pp( |$)/ { exit } { print }'
}

# mentions TEXT OPTION: TEXT names OPTION as a word of its own.
mentions() {
	printf '%s\n' "$1" | grep -qE -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|$)"
}

# heads_options HEADS: the option spellings the '.It' heads name.
heads_options() {
	printf '%s\n' "$1" | grep -oE -- '(^|[ ,|[(])--?[A-Za-z0-9][A-Za-z0-9-]*' |
		sed 's/^[ ,|[(]//' | sort -u || true
}

# check_options WHAT PAGE HELP SOURCE SYNOPSIS WHERE SYNWHERE SKIP...: the
# option groups of HELP (a --help text, as `WHAT` prints it) against PAGE:
# each spelling must be in an '.It' head of SOURCE (the page's source lines
# for this command, WHERE in the page) and one spelling of each option in
# SYNOPSIS (rendered, SYNWHERE in the page); '.It' heads in SOURCE naming
# options HELP lacks are reported too. SKIP: options that need no entry.
check_options() {
	local what=$1 page=$2 help=$3 src=$4 syn=$5 where=$6 synwhere=$7
	shift 7
	local skip=" $* " heads known="" group o any missing line hint
	heads=$(printf '%s\n' "$src" | item_heads "$page")
	while IFS= read -r group; do
		[ -n "$group" ] || continue
		known="$known $group "
		any=0
		missing=""
		line=$(help_line "$help" "${group%% *}")
		for o in $group; do
			case $skip in *" $o "*) any=1; continue ;; esac
			mentions "$heads" "$o" || missing="$missing${missing:+, }$o"
			if mentions "$syn" "$o"; then any=1; fi
		done
		hint=$(mdoc_hint "$group" "$line")
		if [ -n "$missing" ]; then
			problem "'$what' lists $missing, but $page has no '.It' entry naming it $where." \
				"Add one to the option list there (between '.Bl -tag' and '.El'):" \
				"'.It $hint' and a line or two on what it does (--help says: \"$(squeeze "$line")\")."
		fi
		if [ "$any" = 0 ]; then
			problem "'$what' lists ${group// /, }, but $synwhere in $page does not mention it." \
				"Add '.Op ${hint%% , *}' there, in the order of the usage line" \
				"(\"$(help_usage_line "$help" "${group%% *}")\")."
		fi
	done < <(printf '%s\n' "$help" | help_option_groups)
	for o in $(heads_options "$heads"); do
		case "$known$skip" in *" $o "*) continue ;; esac
		problem "$page documents $o $where, but '$what' does not list it: remove its" \
			"'.It' entry (and its mention in $synwhere), or correct its name."
	done
}

# mdoc_hint GROUP LINE: how an '.It' head for the option GROUP ("-f
# --foreground") is spelled in mdoc, with the argument LINE (its --help
# line) shows: "Fl f , Fl -foreground Ar path".
mdoc_hint() {
	local o out="" arg
	arg=$(arg_hint "$2" "${1##* }")
	for o in $1; do
		out="$out${out:+ , }Fl ${o#-}$arg"
	done
	printf '%s\n' "$out"
}

# arg_hint LINE OPTION: " Ar meta" when LINE shows OPTION taking META (upper
# case, one space or '=' after it; more blanks start the description).
arg_hint() {
	local meta
	meta=$(printf '%s\n' "$1" | sed -n "s/.*$2[ =]\([A-Z][A-Za-z0-9._]*\).*/\1/p" | head -n1)
	meta=${meta%,}
	[ -n "$meta" ] && printf ' Ar %s' "$(printf '%s' "$meta" | tr '[:upper:]' '[:lower:]')"
	return 0
}

# help_usage_line HELP OPTION: the usage line naming OPTION, else the first.
help_usage_line() {
	local u
	u=$(printf '%s\n' "$1" | awk 'tolower($0) ~ /^usage:/ { u = 1 } u && /^[[:space:]]*$/ { exit } u')
	{ printf '%s\n' "$u" | grep -m1 -E -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|$)" ||
		printf '%s\n' "$u" | head -n1; } | sed 's/^[[:space:]]*//'
}

# --- tpmid ---------------------------------------------------------------

top=$(help_text "$TPMID" --help)
commands=$(printf '%s\n' "$top" | help_commands)
[ -n "$commands" ] ||
	fail "found no command under 'Commands:' in 'tpmid --help' (has its layout changed? update help_commands in $0)"
ncmd=$(printf '%s\n' "$commands" | wc -l)

has_section "$MAN1" COMMANDS || fail "$MAN1 has no '.Sh COMMANDS' section"
has_section "$MAN1" DESCRIPTION || fail "$MAN1 has no '.Sh DESCRIPTION' section"

# Global options: an entry in DESCRIPTION, a mention in SYNOPSIS.
check_options "tpmid --help" "$MAN1" "$top" "$(section "$MAN1" DESCRIPTION)" \
	"$(section "$MAN1" SYNOPSIS | render "$MAN1")" "in DESCRIPTION (the global options)" "SYNOPSIS"

for cmd in $commands; do
	if ! has_section "$MAN1" COMMANDS "$cmd"; then
		opts=$("$TPMID" "$cmd" --help 2>/dev/null | help_option_groups | grep -v -e '^--help$' -e '^--version$' | sed ':a;N;$!ba;s/\n/, /g')
		problem "'tpmid --help' lists the command '$cmd', but $MAN1 has no subsection for it." \
			"Add '.Ss $cmd' under '.Sh COMMANDS' (in the order of 'tpmid --help'): a synopsis" \
			"('.Nm', '.Cm $cmd', its arguments and '.Op Fl ...' for each option, as 'tpmid $cmd --help'" \
			"shows: \"$("$TPMID" "$cmd" --help 2>/dev/null | head -n1)\"), '.Pp', what it does, and an" \
			"option list ('.Bl -tag -width Ds', an '.It Fl -OPTION' entry for each of: ${opts:-no options}, '.El')."
		continue
	fi
	help=$(help_text "$TPMID" "$cmd" --help)
	src=$(section "$MAN1" COMMANDS "$cmd")
	check_options "tpmid $cmd --help" "$MAN1" "$help" "$src" \
		"$(printf '%s\n' "$src" | synopsis_of | render "$MAN1")" \
		"under '.Ss $cmd' (section COMMANDS)" \
		"the synopsis under '.Ss $cmd' (the lines before its first .Pp)" --help --version
done
for ss in $(subsections "$MAN1" COMMANDS); do
	printf '%s\n' "$commands" | grep -qxF -- "$ss" ||
		problem "$MAN1 documents a command '$ss' ('.Ss $ss' under COMMANDS) that 'tpmid --help'" \
			"does not list: remove the subsection, or correct its name."
done

# --- tpmid-agent -----------------------------------------------------------

agent=$(help_text "$TPMID_AGENT" --help)
has_section "$MAN8" DESCRIPTION || fail "$MAN8 has no '.Sh DESCRIPTION' section"
check_options "tpmid-agent --help" "$MAN8" "$agent" "$(section "$MAN8" DESCRIPTION)" \
	"$(section "$MAN8" SYNOPSIS | render "$MAN8")" "in DESCRIPTION" "SYNOPSIS"

# --- rendering --------------------------------------------------------------

# What man(1) does on an 80-column terminal (line length 78n), with every
# warning on: a line that cannot be broken, a bad macro argument, an
# unclosed list. No output on stderr is the pass.
for f in "$MAN1" "$MAN8"; do
	if ! groff -mdoc -Tutf8 -ww "$top_srcdir/$f" >"$T/render.out" 2>"$T/render.err" ||
		[ -s "$T/render.err" ]; then
		problem "groff -mdoc -Tutf8 -ww $f warns (fix each line it names):" \
			"$(sed 's/^/    /' "$T/render.err")"
	fi
	[ -s "$T/render.out" ] || problem "groff renders $f as nothing"
done

if [ "${#problems[@]}" -gt 0 ]; then
	{
		printf 'FAIL: %s: the man pages are behind the programs (%d problem(s)):\n' \
			"$TEST_NAME" "${#problems[@]}"
		for p in "${problems[@]}"; do printf '  - %s\n' "$p"; done
		printf 'The pages are written by hand (mdoc(7)); see the comment at the top of each.\n'
	} >&2
	exit 1
fi
pass "$MAN1 documents all $ncmd commands of 'tpmid --help' and every option of each; $MAN8 every option of 'tpmid-agent --help'; both render without warnings"
