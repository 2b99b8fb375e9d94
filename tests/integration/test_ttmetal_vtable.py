"""The fake tt-metal's IGraphProcessor has the virtual methods of the pinned
tt-metal header (tests/fixtures/tt-metal), in the same order: calls from
GraphTracker into the plugin's processor go through vtable slots numbered by
that order, so a difference must fail here, not become a silent mismatch."""

import re

from conftest import REPO

PINNED = REPO / "tests" / "fixtures" / "tt-metal" / "graph_tracking.hpp"
FAKE = REPO / "tests" / "fakes" / "tt-metal" / "include" / "tt-metalium" / "graph_tracking.hpp"
PROCESSOR = REPO / "integrations" / "tt-metal" / "processor.cpp"


def class_body(text, name):
    """The text between the braces of `class NAME {`, comments removed."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    m = re.search(r"\bclass\s+%s\b[^{;]*\{" % re.escape(name), text)
    assert m, "no class %s" % name
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end():i - 1]


def virtual_methods(text, name="IGraphProcessor"):
    """Each virtual method of class NAME, in declaration order, as one
    normalised line: return type, name, parameter types, qualifiers."""
    body = class_body(text, name)
    methods = []
    for m in re.finditer(r"\bvirtual\b", body):
        i = body.index("(", m.end())
        depth, j = 1, i + 1
        while depth:
            depth += {"(": 1, ")": -1}.get(body[j], 0)
            j += 1
        tail = re.match(r"[^{;=]*", body[j:]).group(0)  # const, override, noexcept
        decl = body[m.end():j] + tail
        methods.append(" ".join(decl.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()))
    return methods


def test_the_pinned_header_is_tt_metals_with_its_licence():
    text = PINNED.read_text()
    assert text.startswith("// SPDX-FileCopyrightText: © 2023 Tenstorrent USA, Inc.")
    assert "SPDX-License-Identifier: Apache-2.0" in text
    commit = (REPO / "tests" / "fixtures" / "tt-metal" / "COMMIT").read_text().split()
    assert commit[0] == "tenstorrent/tt-metal" and re.fullmatch(r"[0-9a-f]{40}", commit[1])


def test_the_fakes_igraphprocessor_has_the_pinned_virtual_methods_in_order():
    pinned, fake = virtual_methods(PINNED.read_text()), virtual_methods(FAKE.read_text())
    assert len(pinned) == 12 and pinned[0] == "bool is_capture_processor ( ) const"
    assert pinned[-1] == "~IGraphProcessor ( )"
    assert fake == pinned


def test_the_check_sees_a_reordered_or_changed_interface():
    text = PINNED.read_text()
    swapped = text.replace("virtual void track_deallocate_cb(", "virtual void track_deallocate_cb_(", 1)
    assert virtual_methods(swapped) != virtual_methods(text)
    a = "virtual void track_function_end() {};"
    b = "virtual void track_function_end(const std::any& /*output_tensors*/) {};"
    assert a in text and b in text
    reordered = text.replace(a, "@@").replace(b, a).replace("@@", b)
    assert virtual_methods(reordered) != virtual_methods(text)


def test_the_plugin_overrides_only_methods_of_the_pinned_interface():
    pinned = {m.split(" ( ")[0].split()[-1] for m in virtual_methods(PINNED.read_text())}
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", PROCESSOR.read_text(), flags=re.S)
    overridden = set(re.findall(r"(\w+)\([^;{()]*\)\s*(?:const\s*)?override", code))
    assert overridden == {"is_capture_processor", "track_allocate", "track_deallocate", "track_allocate_cb",
                          "track_deallocate_cb"}
    assert overridden <= pinned
