"""bench/RESULTS.md's sections: each benchmark script owns the text between
its two markers and rewrites only that (the others' results stay)."""


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
