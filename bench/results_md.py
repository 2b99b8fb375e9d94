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
