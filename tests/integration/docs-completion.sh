#!/bin/bash
# The bash completion (contrib/bash-completion/tpmid) completes what the
# programs' --help says, so it stays true as commands and options are
# added. Sourced here as bash-completion would, with COMP_WORDS/COMP_CWORD
# set as bash sets them for a <TAB> (COMP_WORDBREAKS splits "--opt=v" into
# "--opt" "=" "v"), each case checks COMPREPLY against this test's own
# reading of the --help text:
#  - `tpmid <TAB>`: exactly the commands of `tpmid --help`;
#  - `tpmid sign --<TAB>`: every option of `tpmid sign --help`, plus the
#    global options, and nothing else; every command's options likewise;
#  - `tpmid sign <TAB>`, `tpmid sign a<TAB>`: the identities of a store made
#    with `tpmid --direct keygen` on this test's swtpm, and with --store
#    before the command, those of that store; `tpmid keygen <TAB>` (a new
#    name): nothing; a `tpmid list` that fails (a named socket nobody
#    serves): nothing, and not a byte on stderr;
#  - `tpmid keygen x --curve <TAB>`, `--curve=<TAB>`, `pubkey x --format
#    <TAB>`: the choices of the usage line; `tpmid-agent --log-level <TAB>`:
#    those its option line lists;
#  - files after --in, directories only after --store;
#  - `tpmid-agent --<TAB>`: every long option of `tpmid-agent --help`.
. "$top_srcdir/tests/lib.sh"
need awk sed sort
COMPLETION=$top_srcdir/contrib/bash-completion/tpmid
[ -f "$COMPLETION" ] || fail "$COMPLETION is missing"
[ -f "$top_srcdir/contrib/bash-completion/tpmid-agent" ] ||
	fail "$top_srcdir/contrib/bash-completion/tpmid-agent is missing"

# Completion as a user has it: the programs by name, from PATH.
PATH="$(dirname "$TPMID"):$(dirname "$TPMID_AGENT"):$PATH"
export PATH
# What bash-completion does on <TAB> for tpmid-agent: source the file named
# after the command (which sources tpmid's).
# shellcheck disable=SC1090,SC1091
. "$top_srcdir/contrib/bash-completion/tpmid-agent" ||
	fail "sourcing contrib/bash-completion/tpmid-agent failed"
[ "$(complete -p tpmid 2>/dev/null)" = "complete -F _tpmid tpmid" ] ||
	fail "the completion does not register _tpmid for tpmid: $(complete -p tpmid 2>&1)"
[ "$(complete -p tpmid-agent 2>/dev/null)" = "complete -F _tpmid_agent tpmid-agent" ] ||
	fail "the completion does not register _tpmid_agent for tpmid-agent: $(complete -p tpmid-agent 2>&1)"

# comp WORD...: set `got` to COMPREPLY, sorted, one a line, for a <TAB>
# after the last WORD (give "" to complete an empty word), run by the
# function `complete -p` names for the program, in a shell without -e and
# -u like an interactive one. Anything the completion writes to stderr
# fails the test.
comp() {
	local fn
	fn=$(complete -p "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "-F") print $(i + 1) }')
	got=$(
		exec 2>"$T/comp.err"
		set +eu
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf '%s\n' "${COMPREPLY[@]}"
	) || fail "completing '$*' failed: $(cat "$T/comp.err")"
	got=$(printf '%s\n' "$got" | sed '/^$/d' | sort)
	[ ! -s "$T/comp.err" ] || fail "completing '$*' wrote to stderr: $(cat "$T/comp.err")"
}

# expect WHAT WANT: `got` (from comp) is the newline-separated list WANT.
expect() {
	[ "$got" = "$2" ] ||
		fail "$1: completion gives [$(printf '%s' "$got" | tr '\n' ' ')], expected [$(printf '%s' "$2" | tr '\n' ' ')]"
}

# help_commands: the commands under "Commands:" of tpmid --help, sorted.
help_commands() {
	tpmid --help | awk '/^Commands:/ { c = 1; next } c && /^[[:space:]]*$/ { exit }
		c && /^[[:space:]]+[a-z]/ { print $1 }' | sort
}

# help_long_options ARGS...: the long options of the option lines of
# `ARGS --help` (indented lines starting with '-'), sorted.
help_long_options() {
	"$@" --help | grep -E '^[[:space:]]+-' |
		sed -E 's/^[[:space:]]+//; s/  .*//' | grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' | sort -u
}

# --- commands and options ---------------------------------------------------

commands=$(help_commands)
[ -n "$commands" ] || fail "found no command in 'tpmid --help'"
comp tpmid ""
expect "tpmid <TAB>" "$commands"
comp tpmid s
expect "tpmid s<TAB>" "$(printf '%s\n' "$commands" | grep '^s')"
pass "tpmid <TAB> gives the $(printf '%s\n' "$commands" | wc -l) commands of tpmid --help"

globals=$(help_long_options tpmid)
[ -n "$globals" ] || fail "found no global option in 'tpmid --help'"
for g in --socket --store --tcti --direct; do
	printf '%s\n' "$globals" | grep -qxF -- "$g" || fail "'tpmid --help' shows no $g option line"
done
comp tpmid --
expect "tpmid --<TAB>" "$(printf '%s\n' "$globals" --help --version | sort -u)"

for cmd in $commands; do
	opts=$(help_long_options tpmid "$cmd")
	[ -n "$opts" ] || fail "found no option in 'tpmid $cmd --help' (not even --help)"
	comp tpmid "$cmd" --
	expect "tpmid $cmd --<TAB>" "$(printf '%s\n' "$opts" "$globals" | sort -u)"
done
sign_opts=$(help_long_options tpmid sign)
printf '%s\n' "$sign_opts" | grep -qxF -- --in || fail "'tpmid sign --help' has no --in"
comp tpmid sign --p
expect "tpmid sign --p<TAB>" "$(printf '%s\n' "$sign_opts" | grep -- '^--p')"
pass "tpmid COMMAND --<TAB> gives the options of each command's --help and the global ones"

# --- option values ------------------------------------------------------------

# usage_choices ARGS... OPTION: the a|b|c after OPTION in `ARGS --help`.
usage_choices() {
	local o=${*: -1}
	"${@:1:$#-1}" --help | grep -oE -- "$o [a-z0-9|]+\|[a-z0-9|]+" | head -n1 |
		sed "s/^$o //" | tr '|' '\n' | sort
}
curves=$(usage_choices tpmid keygen --curve)
[ -n "$curves" ] || fail "'tpmid keygen --help' shows no '--curve a|b' in its usage"
comp tpmid keygen x --curve ""
expect "tpmid keygen x --curve <TAB>" "$curves"
comp tpmid keygen x --curve = ""
expect "tpmid keygen x --curve=<TAB>" "$curves"
comp tpmid keygen x --curve p3
expect "tpmid keygen x --curve p3<TAB>" "$(printf '%s\n' "$curves" | grep '^p3')"
formats=$(usage_choices tpmid pubkey --format)
[ -n "$formats" ] || fail "'tpmid pubkey --help' shows no '--format a|b' in its usage"
comp tpmid pubkey x --format ""
expect "tpmid pubkey x --format <TAB>" "$formats"

# The agent's --log-level line lists its values in prose ("error, warn,
# info (default) or debug").
levels=$(tpmid-agent --help | grep -E '^[[:space:]]+--log-level ' | sed -E 's/^[[:space:]]+--log-level [A-Z]+ +//' |
	sed -E 's/ *\([^)]*\)//g; s/,? or /, /' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sed '/^$/d' | sort)
[ -n "$levels" ] || fail "'tpmid-agent --help' lists no --log-level values"
comp tpmid-agent --log-level ""
expect "tpmid-agent --log-level <TAB>" "$levels"
comp tpmid-agent --
expect "tpmid-agent --<TAB>" "$(help_long_options tpmid-agent)"

mkdir -p "$T/files/sub.d"
: >"$T/files/msg.txt"
: >"$T/files/msg.bin"
comp tpmid sign x --in "$T/files/m"
expect "tpmid sign x --in .../m<TAB>" "$(printf '%s\n' "$T/files/msg.bin" "$T/files/msg.txt")"
comp tpmid sign x --out "$T/files/"
expect "tpmid sign x --out .../<TAB>" "$(printf '%s\n' "$T/files/msg.bin" "$T/files/msg.txt" "$T/files/sub.d" | sort)"
comp tpmid --store "$T/files/"
expect "tpmid --store .../<TAB>" "$T/files/sub.d"
comp tpmid sign x --digest ""
expect "tpmid sign x --digest <TAB> (no value)" ""
pass "values: curves, formats and log levels from --help, files after --in/--out, directories after --store"

# --- identity names -------------------------------------------------------------

start_swtpm
for n in alpha alpine beta; do
	run_ok tpmid --direct keygen "$n" >/dev/null
done
run_ok tpmid --direct --store "$T/other" keygen gamma >/dev/null
names=$(printf '%s\n' alpha alpine beta)
comp tpmid sign ""
expect "tpmid sign <TAB>" "$names"
comp tpmid sign al
expect "tpmid sign al<TAB>" "$(printf '%s\n' alpha alpine)"
comp tpmid delete ""
expect "tpmid delete <TAB>" "$names"
comp tpmid lock ""
expect "tpmid lock <TAB>" "$names"
comp tpmid pubkey --format pem ""
expect "tpmid pubkey --format pem <TAB>" "$names"
comp tpmid sign alpha ""
expect "tpmid sign alpha <TAB> (one name only)" ""
comp tpmid keygen ""
expect "tpmid keygen <TAB> (a new name)" ""
comp tpmid list ""
expect "tpmid list <TAB> (no NAME)" ""
comp tpmid --store "$T/other" sign ""
expect "tpmid --store OTHER sign <TAB>" "gamma"
comp tpmid --store = "$T/other" sign ""
expect "tpmid --store=OTHER sign <TAB>" "gamma"
comp tpmid sign --store "$T/other" ""
expect "tpmid sign --store OTHER <TAB>" "gamma"
# A named socket nobody serves: list fails, nothing is completed, and the
# error is not printed over the user's command line (comp checks stderr).
comp tpmid --socket "$T/none.sock" sign ""
expect "tpmid --socket NONE sign <TAB>" ""
TPMID_SOCKET=$T/none.sock comp tpmid sign ""
expect "TPMID_SOCKET=NONE tpmid sign <TAB>" ""
pass "identity names from tpmid list --json (with the line's --store), none for keygen, none when list fails"
