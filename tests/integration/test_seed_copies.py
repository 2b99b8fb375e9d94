"""The seed's programs kept in the repository are byte-identical to the
code blocks of the seed document (skipped when the document is absent)."""

import re

import pytest

from conftest import REPO, SEED_PROCESSES, seed_code_blocks, seed_doc

DOC = seed_doc()
pytestmark = pytest.mark.skipif(DOC is None, reason="seed document not found "
                                "(../shared/seed/real-time-monitoring-example.md)")


@pytest.fixture(scope="module")
def blocks():
    return seed_code_blocks(DOC.read_text(encoding="utf-8"))


def only_block(blocks, lang, marker):
    found = [body for (l, body) in blocks if l == lang and marker in body]
    assert len(found) == 1, "expected one %s block containing %r, found %d" % (lang, marker, len(found))
    return found[0]


def test_query_stats_py_is_byte_identical_to_the_seed(blocks):
    body = only_block(blocks, "python", "def query_device_stats(device_id):")
    assert (REPO / "examples/seed/query_stats.py").read_bytes() == body.encode("utf-8")


def test_monitor_allocations_cpp_is_byte_identical_to_the_seed(blocks):
    body = only_block(blocks, "cpp", "// monitor_allocations.cpp")
    assert (REPO / "examples/seed/monitor_allocations.cpp").read_bytes() == body.encode("utf-8")


def test_test_memory_leaks_sh_is_byte_identical_to_the_seed(blocks):
    body = only_block(blocks, "bash", "# test_memory_leaks.sh")
    assert (REPO / "examples/seed/test_memory_leaks.sh").read_bytes() == body.encode("utf-8")


def test_web_dashboard_py_is_byte_identical_to_the_seed(blocks):
    body = only_block(blocks, "python", "# web_dashboard.py")
    assert (REPO / "examples/seed/web_dashboard.py").read_bytes() == body.encode("utf-8")


def test_multi_process_snippets_in_the_tests_are_the_seeds_verbatim():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Multi-Process Example", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r'python -c "(.*?)"\n', section, re.S)
    assert tuple(snippets) == SEED_PROCESSES
