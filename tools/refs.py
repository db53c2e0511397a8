#!/usr/bin/env python3
"""tools/refs.py - comments and documents may name only files of this tree.

    python3 tools/refs.py [ROOT]

Why: a comment that cites a file which was moved, renamed or never part of
the repository sends the next reader looking for something that is not
there, and a path outside the tree (a developer's machine) means nothing to
anyone else.  `make lint` runs this check.

What it reads: the comments of every C source and header, and every
Markdown file, of the tree (git's tracked files when ROOT is a checkout,
else every file below ROOT).  In them it looks for
  - names of files with the extensions of this tree's code and documents
    (.c .h .md .sh .py .txt .sql), with or without directories; a name
    must resolve the way a reader would look for it: from the tree's root,
    from the naming file's directory, in lib/ (as the compiler's -Ilib), as
    the tail of a path in the tree ("engine/plan.h"), or, without a
    directory, as any file of that name.  Patterns such as `cmd_<verb>.c`
    or `aws_*.c` are not names and are skipped;
  - absolute paths of a developer's machine (/work, /home, /root) and
    paths that leave the tree (../shared).
Prints one line per finding ("FILE:LINE: names NAME, ...") and exits 1 if
there was any, 0 otherwise.
"""
import os
import re
import subprocess
import sys

EXT = r"(?:c|h|md|sh|py|txt|sql)"
# a file name: path components, a stem, one of EXT; not glued to a pattern
# character or a longer word on either side
NAME = re.compile(r"(?<![\w./~$<>*{%-])((?:\.\./)*(?:[\w.-]+/)*[A-Za-z_][\w-]*(?:\.[\w-]+)*\." + EXT +
                  r")(?![\w/*<>{}%-])")
OUTSIDE = re.compile(r"(?<![\w.])(/(?:work|home|root)/[^\s`\"')]*|\.\./shared\b[^\s`\"')]*)")


def tree_files(root):
    try:
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        if os.path.realpath(top) == os.path.realpath(root):
            out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
                                 capture_output=True, text=True, check=True).stdout
            return [f for f in out.split("\n") if f and os.path.exists(os.path.join(root, f))]
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d, subdirs, names in os.walk(root):
        subdirs[:] = [s for s in subdirs if s != ".git" and not s.startswith("build")]
        files += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return files


def c_comments(text):
    """(line, text) for every line of every comment of a C file."""
    out, i, n, line = [], 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch in "\"'":
            i += 1
            while i < n and text[i] != ch and text[i] != "\n":
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j
            for k, part in enumerate(text[i + 2:j].split("\n")):
                out.append((line + k, part))
            line += text.count("\n", i, j)
            i = j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append((line, text[i + 2:j]))
            i = j
        else:
            i += 1
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = sorted(tree_files(root))
    known = set(files)
    basenames = {os.path.basename(f) for f in files}

    def resolves(name, src):
        here = os.path.normpath(os.path.join(os.path.dirname(src), name))
        if name.startswith("../"):
            return here in known
        if name in known or here in known or "lib/" + name in known:
            return True
        if "/" not in name:
            return name in basenames
        return any(f.endswith("/" + name) for f in files)

    bad = 0
    for f in files:
        if f.startswith("build") or f.startswith("tests/fuzz/seeds/"):
            continue
        if not f.endswith((".c", ".h", ".md")):
            continue
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        lines = c_comments(text) if f.endswith((".c", ".h")) else enumerate(text.split("\n"), 1)
        for ln, line in lines:
            for m in OUTSIDE.finditer(line):
                print(f"{f}:{ln}: names {m.group(1)}, a path outside the repository")
                bad += 1
            for m in NAME.finditer(line):
                if not resolves(m.group(1), f):
                    print(f"{f}:{ln}: names {m.group(1)}, which is not in the repository")
                    bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
