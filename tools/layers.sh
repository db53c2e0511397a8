#!/bin/sh
# tools/layers.sh - the layer check: no include and no call climbs a floor.
#
#   sh tools/layers.sh [-r ROOT] [-o OBJDIR] [-t TABLE]
#   sh tools/layers.sh -p [-t TABLE]     print the dependency picture only
#
# Reads the floor table (tools/layers.txt) and checks, for every product
# directory listed there:
#   1. the table itself: every listed dependency is a product directory on
#      a lower floor, or on the same floor without a circle;
#   2. every C file lives in a listed directory (a new directory needs a row);
#   3. every `#include "..."` (resolved as the compiler does: the file's own
#      directory, then ROOT, then ROOT/lib) stays within what the file's
#      directory may use;
#   4. every call (every undefined symbol of an object under OBJDIR, matched
#      to the object that defines it; `nm`) stays within it too.
# OBJDIR defaults to ROOT/build/obj; the call check is skipped, with a
# note, when it holds no objects (run `make` first; `make lint` does).
# Prints one line per violation (file, line or symbol, and the rule) and
# exits 1 if there was any, 0 otherwise.
set -u
root=.
obj=
table=
picture=0
while getopts pr:o:t: opt; do
	case $opt in
	p) picture=1 ;;
	r) root=$OPTARG ;;
	o) obj=$OPTARG ;;
	t) table=$OPTARG ;;
	*) echo "usage: $0 [-p] [-r ROOT] [-o OBJDIR] [-t TABLE]" >&2; exit 2 ;;
	esac
done
[ -n "$table" ] || table=$root/tools/layers.txt
[ -n "$obj" ] || obj=$root/build/obj
if [ ! -f "$table" ]; then
	echo "layers: $table: no such table" >&2
	exit 2
fi
work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT

# The table as "floor dir deps..." lines, comments and blank lines dropped.
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$table" >"$work/table"

# The picture: one row per directory, top floor first, each followed by
# what it uses (highest floor first).  Every arrow points down a floor or
# sideways, never up: the check below fails the table otherwise.
if [ $picture -eq 1 ]; then
	awk '{ floor[$2] = $1; row[NR] = $0 }
	END {
		printf "floor  %-20s uses\n", "directory"
		for (f = 99; f >= 0; f--)
			for (i = 1; i <= NR; i++) {
				n = split(row[i], w, /[ \t]+/)
				if (w[1] != f) continue
				u = ""
				for (g = f; g >= 0; g--)
					for (j = 3; j <= n; j++)
						if (floor[w[j]] == g) u = u (u == "" ? "" : ", ") w[j]
				printf "  %d    %-20s %s\n", f, w[2], u == "" ? "(nothing)" : "--> " u
			}
	}' "$work/table"
	exit 0
fi

# Product C files: every .c/.h of the repository outside tests/, bench/ and
# build trees.  From git when ROOT is a checkout, else from the file system.
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
	[ "$(git -C "$root" rev-parse --show-toplevel)" = "$(cd "$root" && pwd -P)" ]; then
	git -C "$root" ls-files --cached --others --exclude-standard '*.c' '*.h' >"$work/files"
else
	(cd "$root" && find . -name '*.[ch]' ! -path './build*' | sed 's|^\./||') >"$work/files"
fi
grep -v -e '^tests/' -e '^bench/' -e '^build' "$work/files" | sort >"$work/product"

# Include lines of product files: "file<TAB>line<TAB>written-name".
(cd "$root" && tr '\n' '\0' <"$work/product" | xargs -0 grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' /dev/null) |
	sed 's/^\([^:]*\):\([0-9]*\):[^"]*"\([^"]*\)".*/\1	\2	\3/' >"$work/includes"

# Symbols: "object-source<TAB>U|D<TAB>symbol" for every object under $obj
# whose source is a product file (the generated embedded table counts as
# lib/, where its header is).
calls=0
: >"$work/symbols"
if [ -d "$obj" ] && [ -n "$(find "$obj" -name '*.o' 2>/dev/null | head -n 1)" ]; then
	calls=1
	(cd "$obj" && find . -name '*.o' ! -path './tests/*' ! -path './bench/*' | sed 's|^\./||' | sort |
		xargs nm -A 2>/dev/null) | awk '
		{
			o = $1; sub(/:.*/, "", o); src = o; sub(/\.o$/, ".c", src); sub(/^gen\//, "lib/", src)
			if ($2 == "U") print src "\tU\t" $3
			else if (NF == 3 && $2 ~ /^[TDBRCVWG]$/) print src "\tD\t" $3
		}' >"$work/symbols"
else
	echo "layers: note: no objects under $obj; calls not checked (run make first)"
fi

awk -F'\t' -v calls="$calls" -v symfile="$work/symbols" -v incfile="$work/includes" \
	-v prodfile="$work/product" -v filesfile="$work/files" -v root="$root" '
function dir_of(p,   d) { d = p; if (sub(/\/[^\/]*$/, "", d) == 0) d = "."; return d }
function rule(d) { return d " (floor " floor[d] ") may use only: " (uses[d] == "" ? "nothing" : uses[d]) }
function bad(msg) { print "layers: " msg; nbad++ }
function reach(a, b,   i, n, parts) {
	# 1 if b is reachable from a through the table
	if (a == b) return 1
	if (seen[a]++) return 0
	n = split(uses[a], parts, " ")
	for (i = 1; i <= n; i++) if (reach(parts[i], b)) return 1
	return 0
}
function srcline(file, sym,   first, n, l) {
	# the line of file that uses sym, for the message: the first indented
	# line naming it (a use inside a function body), else the first line
	n = 0; first = 0
	while ((getline l < (root "/" file)) > 0) {
		n++
		if (!match(l, "(^|[^A-Za-z0-9_])" sym "([^A-Za-z0-9_]|$)")) continue
		if (l ~ /^[ \t]/) { close(root "/" file); return n }
		if (!first) first = n
	}
	close(root "/" file)
	return first
}
BEGIN {
	FS = "[ \t]+"
	while ((getline l < ARGV[1]) > 0) {
		n = split(l, f, /[ \t]+/)
		i = 1
		while (i <= n && f[i] == "") i++
		fl = f[i]; d = f[i + 1]
		if (fl !~ /^[0-9]+$/ || d == "") { bad("tools/layers.txt: malformed row: " l); continue }
		if (d in floor) bad("tools/layers.txt: " d " has two rows")
		floor[d] = fl + 0; order[++nd] = d; uses[d] = ""
		for (j = i + 2; j <= n; j++) if (f[j] != "") uses[d] = uses[d] (uses[d] == "" ? "" : " ") f[j]
	}
	close(ARGV[1]); ARGV[1] = ""
	# 1. the table
	for (k = 1; k <= nd; k++) {
		d = order[k]
		n = split(uses[d], u, " ")
		for (j = 1; j <= n; j++) {
			allowed[d, u[j]] = 1
			if (!(u[j] in floor)) { bad("tools/layers.txt: " d " uses " u[j] ", which has no row"); continue }
			if (floor[u[j]] > floor[d])
				bad("tools/layers.txt: " d " (floor " floor[d] ") uses " u[j] " (floor " floor[u[j]] "): a dependency climbs")
			else if (u[j] == d)
				bad("tools/layers.txt: " d " lists itself")
		}
	}
	for (k = 1; k <= nd; k++) {
		d = order[k]
		n = split(uses[d], u, " ")
		for (j = 1; j <= n; j++) {
			split("", seen)
			if (u[j] in floor && reach(u[j], d)) bad("tools/layers.txt: circle between " d " and " u[j])
		}
	}
	# 2. every product file in a listed directory
	while ((getline p < prodfile) > 0) {
		pd = dir_of(p)
		if (!(pd in floor)) bad(p ": directory " pd " has no row in tools/layers.txt")
	}
	# 3. includes, resolved as the compiler does: the including file
	#    directory, then ROOT, then ROOT/lib (-I. -Ilib)
	while ((getline l < filesfile) > 0) known[l] = 1
	while ((getline l < incfile) > 0) {
		split(l, f, "\t")
		fd = dir_of(f[1])
		if (!(fd in floor)) continue
		t = ""
		if ((fd "/" f[3]) in known) t = fd "/" f[3]
		else if (f[3] in known) t = f[3]
		else if (("lib/" f[3]) in known) t = "lib/" f[3]
		if (t == "") continue  # not ours (a generated or system header)
		f[3] = t; td = dir_of(t)
		if (fd == td) continue
		if (!(td in floor)) {
			bad(f[1] ":" f[2] ": includes " f[3] ", outside the product floors; " rule(fd))
			continue
		}
		if (!((fd, td) in allowed))
			bad(f[1] ":" f[2] ": includes " f[3] " (" td ", floor " floor[td] "); " rule(fd))
	}
	# 4. calls
	if (calls) {
		while ((getline l < symfile) > 0) {
			split(l, f, "\t")
			if (f[2] == "D") def[f[3]] = f[1]
		}
		close(symfile)
		while ((getline l < symfile) > 0) {
			split(l, f, "\t")
			if (f[2] != "U" || !(f[3] in def)) continue
			fd = dir_of(f[1]); td = dir_of(def[f[3]])
			if (!(fd in floor) || !(td in floor) || fd == td || ((fd, td) in allowed)) continue
			ln = srcline(f[1], f[3])
			bad(f[1] (ln ? ":" ln : "") ": calls " f[3] " (" def[f[3]] ", floor " floor[td] "); " rule(fd))
		}
	}
	exit nbad ? 1 : 0
}' "$work/table"
