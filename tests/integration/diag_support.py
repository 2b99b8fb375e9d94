"""Helpers for the diagnosis tests (issue 13): the C client with known call
sites (diag_app.c), Python clients of the simulated tt_metal, tt_smi runs,
and the server's diagnosis documents over HTTP."""

import sys

import pytest

from conftest import build_c_client, smi  # noqa: F401  (shared: `from diag_support import smi`)
from http_support import dashboard_url, get, get_json
from test_http_metrics import parse, value

MiB = 1 << 20
GiB = 1 << 30


@pytest.fixture(scope="module")
def diag_app(tmp_path_factory):
    return build_c_client(tmp_path_factory, "diag_app.c")


def start_app(processes, app, server, mode, stacks=True):
    """Runs diag_app MODE until its reports are flushed; it holds its buffers until stopped."""
    env = server.env(extra={"TT_ALLOC_STACK_TRACE": "1"} if stacks else None)
    p = processes([app, mode], env=env)
    p.expect(r"^ready 0$", timeout=20)
    return p


def start_py(processes, server, code, ready="^ready$", stacks=True):
    """A Python client (simulated tt_metal on the path) that prints `ready` and then waits on stdin."""
    env = server.env(extra={"TT_ALLOC_STACK_TRACE": "1"} if stacks else None)
    p = processes([sys.executable, "-c", code], env=env)
    p.expect(ready, timeout=20)
    return p


def doc(server, path):
    """A diagnosis document over HTTP (JSON)."""
    return get_json(dashboard_url(server) + path.lstrip("/"))


def raw(server, path):
    return get(dashboard_url(server) + path.lstrip("/"))


def metric(server, name, **labels):
    r = get(dashboard_url(server) + "metrics")
    assert r.status == 200
    return value(parse(r.body.decode("utf-8")), name, **labels)
