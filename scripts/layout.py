#!/usr/bin/env python3
"""The README's Layout section, made from the tree.

    scripts/layout.py            # prints the section
    scripts/layout.py --check    # exit 1 when README.md's section differs
    scripts/layout.py --write    # rewrites README.md's section

Every C file opens with "/* name.c - what it holds ..." (STYLE.md): the
first sentence of that line is the file's row. Folders are described here,
once; a folder of src/ that is not described fails the check, so a new one
gets a line.
"""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "## Layout\n"

FOLDERS = {
    "include": "the public C header of libttalloc",
    "src/common": "what every program shares: the wire format, sockets, the string builder, "
                  "array growth, the clock, errors, command lines, formatting, the query client",
    "src/client": "libttalloc: the live table, the shared-memory ring's producer, the connection",
    "src/devices": "device backends (simulation, tt-kmd sysfs, NVML) behind one vtable, and the "
                   "kernel's view of who holds a device",
    "src/server": "ttalloc-server wired together: options, the event loop, systemd",
    "src/server/state": "the picture: registry, leak reports, history, stacks, holders, tt-metal's "
                        "shared-memory view, the device totals every view shows",
    "src/server/ingest": "the binary protocol: connections and rings behind callbacks, the dispatch "
                         "table, the handlers, processes that lost their connection, tt-metal's regions",
    "src/server/http": "the HTTP side: daemon, routes, event stream, JSON documents, /metrics",
    "src/model": "the data model's JSON objects (docs/DATA_MODEL.md): one writer each for the device, "
                 "process and buffer objects the server, tt_smi and ttalloc-run all emit",
    "src/smi": "tt_smi: the table, watch mode, history, scripting and JSON output",
    "src/tools": "ttalloc-run (the CI leak gate) and ttalloc-load (workloads)",
    "src/interpose": "libttalloc_cuda.so, the CUDA interposer",
}

OTHER = [
    ("web/", "the dashboard page, compiled into the server"),
    ("python/", "the Python package (`ttalloc`: connection, query, reporter, monitor, pytest plugin) "
                "and the simulated `tt_metal` module"),
    ("examples/seed/", "the seed's scripts, verbatim"),
    ("tests/", "unit (cmocka), integration (pytest, real binaries), fuzz targets, fakes, fixtures, "
               "the dashboard's browser check"),
    ("bench/", "`make bench` and its recorded results"),
    ("packaging/", "man pages, systemd units, pkg-config"),
    ("scripts/", "the dependency list, the demo, and checks of the tree (call graph, this layout)"),
    ("schemas/", "the data model as JSON Schema: one file per document, model.schema.json for what they share"),
    ("docs/", "the design of record (DESIGN.md), the data model (DATA_MODEL.md), hardware, tt-metal"),
]


def purpose(path):
    """The first sentence after "name - " in the file's opening comment."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    text = []
    for line in lines[1:12]:
        line = line.strip()
        if not line.startswith("*") or line.startswith("*/"):
            break
        body = line.lstrip("*").strip()
        if not body:
            break
        text.append(body)
    joined = " ".join(text)
    m = re.match(r"^\S+ - (.*)$", joined)
    if not m:
        raise SystemExit("layout: %s does not open with '/* name - purpose'" % path)
    return first_sentence(m.group(1))


def first_sentence(text):
    """Up to the first '.', ':' or ';' that ends a clause outside parentheses."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch in ".:;" and (i + 1 == len(text) or text[i + 1] == " ") and i > 0 \
                and (text[i - 1].isalnum() or text[i - 1] in ")]'`"):
            return text[:i].strip()
    return text.strip().rstrip(".")


def tracked(folder):
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [p for p in out.split("\n") if p and os.path.dirname(p) == folder and p.endswith((".c", ".h"))]


def section():
    folders = sorted({os.path.dirname(p) for p in subprocess.run(
        ["git", "ls-files", "src", "include"], cwd=REPO, capture_output=True, text=True,
        check=True).stdout.split("\n") if p.endswith((".c", ".h"))})
    missing = [f for f in folders if f not in FOLDERS]
    if missing:
        raise SystemExit("layout: describe these folders in scripts/layout.py: %s" % ", ".join(missing))
    out = [BEGIN, "\n", "Made by `scripts/layout.py` from the tree (a test checks it is current): each\n",
           "file's row is the first sentence of its opening comment.\n"]
    for folder in folders:
        out.append("\n**`%s/`** %s\n\n" % (folder, FOLDERS[folder]))
        out.append("| file | what it holds |\n|---|---|\n")
        for path in sorted(tracked(folder)):
            out.append("| `%s` | %s |\n" % (os.path.basename(path), purpose(os.path.join(REPO, path))))
    out.append("\nBeside the C tree:\n\n")
    for name, what in OTHER:
        out.append("- `%s` %s\n" % (name, what))
    return "".join(out)


def readme_parts():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index(BEGIN)
    nxt = text.find("\n## ", start + len(BEGIN))
    end = len(text) if nxt < 0 else nxt + 1
    return text[:start], text[start:end], text[end:]


def main():
    wanted = section()
    if "--check" in sys.argv:
        current = readme_parts()[1]
        if current.rstrip("\n") != wanted.rstrip("\n"):
            print("README.md's Layout section is out of date: run scripts/layout.py --write")
            return 1
        print("layout: README.md's Layout section is current")
        return 0
    if "--write" in sys.argv:
        before, _, after = readme_parts()
        with open(os.path.join(REPO, "README.md"), "w", encoding="utf-8") as f:
            f.write(before + wanted + ("\n" if after else "") + after)
        return 0
    sys.stdout.write(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
