"""bench/RESULTS.md's sections: each benchmark script owns the text between
its two markers and rewrites only that (the others' results stay), and
says on what machine and at what commit it ran (machine(), commit())."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_section(path, begin, end, section):
    """Replaces the text from `begin` to `end` in the file at `path` with
    `section` (which holds both markers), or appends it when the markers
    are not there yet."""
    text = path.read_text()
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def publish(path, begin, end, section, failures, write=True):
    """Prints `section`, writes it into the file at `path` unless `write`
    is false (--no-write), and returns the script's exit status: 1 when
    there are `failures`, else 0."""
    print(section)
    if write:
        write_section(path, begin, end, section)
    return 1 if failures else 0


def machine():
    """The CPU (lscpu), cores, kernel and load: the "- Machine:" line of a section."""
    info = {}
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    except OSError:
        pass
    cores = info.get("Core(s) per socket", "?")
    return (f"{info.get('Model name', '?')} ({info.get('Architecture', '?')}), {cores} cores per socket, "
            f"{info.get('Socket(s)', '?')} socket(s), `nproc` = {os.cpu_count()}, kernel {os.uname().release}, "
            f"load average at start {os.getloadavg()[0]:.2f}")


def commit():
    """HEAD's short hash, and whether the working tree differs from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO)] + list(args), stdout=subprocess.PIPE,
                              text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + (" (plus uncommitted changes)" if dirty else "")
