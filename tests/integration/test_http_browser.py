"""The dashboard in real headless Chromium (Debian's chromium, driven by
playwright-core from tests/browser): it loads without console errors, shows
every device, and an allocation made by a client appears within 2 s, an
allocation failure's post-mortem too; warning colours, chart tooltips and
axis ticks, temperature and power charts, dark mode, a 480 px wide screen,
the per-process chart with 60 short-lived processes, and the drill-downs
from a process and a leak to their buffers and stacks.
Screenshots are saved to tests/artifacts/dashboard*.png.

Missing chromium or node skip the test outside CI and fail it under CI=true.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, build_c_client
from http_support import (DRAM, L1, MiB, RawClient, dashboard_url, get, get_json, tool, wait_for)
from ttalloc import protocol

BROWSER_DIR = REPO / "tests" / "browser"
ARTIFACTS = REPO / "tests" / "artifacts"
SUPPORT = Path(__file__).resolve().parent / "http_support.py"


def playwright_ready():
    """tests/browser/node_modules (make browser-deps runs `npm ci`; done here if missing)."""
    if (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return
    npm = tool("npm")
    res = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, capture_output=True,
                         text=True, timeout=300)
    if res.returncode != 0:
        msg = "npm ci in tests/browser failed:\n" + res.stdout[-2000:] + res.stderr[-2000:]
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def reply(proc, timeout=15.0):
    line = proc.expect(r"^\{", timeout).string
    doc = json.loads(line)
    if "fatal" in doc:
        pytest.fail("dashboard_check.mjs failed: %s" % doc["fatal"])
    return doc


def client(processes, server):
    p = processes([sys.executable, str(SUPPORT), server.socket])
    p.expect(r"^pid=\d+")
    return p


def do(p, line):
    p.send(line)
    p.expect(r"^ok$")


def ask(page, line, timeout=15.0):
    page.send(line)
    return reply(page, timeout)


def open_page(processes, url):
    chromium = tool("chromium", "/usr/bin/chromium")
    node = tool("node")
    playwright_ready()
    page = processes([node, str(BROWSER_DIR / "dashboard_check.mjs"), url],
                     env=dict(os.environ, CHROMIUM=chromium), cwd=str(BROWSER_DIR))
    return page, reply(page, timeout=30)


UNIT = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def tick_bytes(label):
    if label == "0":
        return 0
    number, unit = label.split(" ")
    return float(number) * UNIT[unit]


def assert_round_byte_ticks(labels):
    """0, then equal steps of a power of two bytes (0, 256 MB, 512 MB, 768 MB, 1 GB, ...)."""
    values = [tick_bytes(x) for x in labels]
    assert values[0] == 0 and len(values) >= 2, labels
    step = values[1]
    assert step > 0 and int(step) & (int(step) - 1) == 0, labels
    assert values == [step * i for i in range(len(values))], labels


def assert_round_time_ticks(labels):
    """HH:MM:SS (or HH:MM) on multiples of one step of the local clock."""
    def seconds(label):
        parts = [int(x) for x in label.split(":")]
        return parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) == 3 else 0)
    assert len(labels) >= 2 and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", x) for x in labels), labels
    values = [seconds(x) for x in labels]
    steps = {(b - a) % 86400 for a, b in zip(values, values[1:])}
    assert len(steps) == 1, labels
    step = steps.pop()
    assert step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600), labels
    assert all(v % step == 0 for v in values), labels


def luminance(css_rgb):
    r, g, b = (int(x) for x in re.findall(r"\d+", css_rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dashboard_shows_devices_and_a_new_allocation_within_2s(server_factory, processes):
    chromium = tool("chromium", "/usr/bin/chromium")
    node = tool("node")
    playwright_ready()
    server = server_factory(args=["--http", "127.0.0.1:0", "--history-interval", "250"])
    url = dashboard_url(server)

    # the seed's Multi-Process Example, plus a process that leaks
    a, b, c, leaky = (client(processes, server) for _ in range(4))
    do(a, "alloc 0 %d 0x800000000 %d" % (DRAM, 3 * 1024 * MiB))
    do(a, "alloc 0 %d 0x10000 %d" % (L1, 450 * MiB))
    do(b, "alloc 0 %d 0x800000000 %d" % (DRAM, 200 * MiB))
    do(c, "alloc 1 %d 0x10000 %d" % (L1, 150 * MiB))
    do(leaky, "alloc 1 %d 0x900000000 %d" % (DRAM, 1024 * MiB))
    for p in (a, b, c, leaky):
        do(p, "sync")
    leaky.send("exit")
    leaky.wait()
    wait_for(lambda: get_json(url + "api/leaks")["leak_reports_total"] == 1, 5, what="the leak report")

    page = processes([node, str(BROWSER_DIR / "dashboard_check.mjs"), url],
                     env=dict(os.environ, CHROMIUM=chromium), cwd=str(BROWSER_DIR))
    ready = reply(page, timeout=30)
    assert ready["cards"] == 2
    for dev, used in ((0, (3 * 1024 + 200) * MiB), (1, 0)):
        page.send("wait-bytes %d dram %d 5000" % (dev, used))
        assert reply(page)["ok"], "device %d card does not show %d DRAM bytes" % (dev, used)

    # a new allocation, made now by a client, must be on the page within 2 s
    me = RawClient(server.socket)
    me.alloc(1, DRAM, 0x700000000, 777 * MiB)
    me.sync()
    t0 = time.monotonic()
    page.send("wait-bytes 1 dram %d 2000" % (777 * MiB))
    shown = reply(page)
    page.send("wait-row %d 1 2000" % os.getpid())
    row = reply(page)
    elapsed = time.monotonic() - t0
    assert shown["ok"], "777 MiB on device 1 did not appear on the dashboard within 2 s"
    assert shown["ms"] <= 2000
    assert row["ok"], "the allocating process did not appear in the process table within 2 s"
    assert elapsed < 4.0

    page.send("text [data-testid=\"dram-used-1\"]")
    assert "777" in reply(page)["text"]
    page.send("text [data-testid=\"leaks\"]")
    assert str(leaky.pid) in reply(page)["text"]

    # an allocation failure reported now is in the failures card, next to the leaks
    me.sock.sendall(protocol.pack(protocol.ALLOC_FAILED, 0, size=20 * 1024 * MiB, buffer_type=DRAM))
    me.sync()
    page.send("wait-selector 2000 [data-testid=\"oom-1\"]")
    assert reply(page)["ok"], "the allocation failure did not appear on the dashboard within 2 s"
    page.send("text [data-testid=\"oom-1\"]")
    assert "too large" in reply(page)["text"]

    # warning colours, as tt_smi top: yellow from 75 %, red from 90 % of the capacity
    me.alloc(1, DRAM, 0x100000000, 11 * 1024 * MiB)  # 777 MiB + 11 GiB of 12 GiB: 98 %
    me.alloc(0, L1, 0x200000, 720 * MiB)  # 450 + 720 MiB of 1440 MiB: 81 %
    me.sync()
    assert ask(page, 'wait-selector 2000 [data-testid="device-card-1"][data-level="crit"]')["ok"]
    assert ask(page, 'wait-selector 2000 [data-testid="device-card-0"][data-level="warn"]')["ok"]
    assert ask(page, 'style background-color [data-testid="device-card-1"] .fill.dram')["value"] == "rgb(220, 38, 38)"
    assert ask(page, 'style background-color [data-testid="device-card-0"] .fill.l1')["value"] == "rgb(217, 119, 6)"
    assert ask(page, 'style background-color [data-testid="device-card-0"] .fill.dram')["value"] == "rgb(37, 99, 235)"
    assert ask(page, 'style border-left-color [data-testid="device-card-1"]')["value"] == "rgb(220, 38, 38)"
    assert "90 % full" in ask(page, 'text [data-testid="level-1"]')["text"]  # said in words, not only in colour

    # let the charts gather a few history points (two of the page's history
    # refreshes, every 2 s), then keep a picture
    page.send("wait-responses /api/history?seconds=10 2 8000")
    assert reply(page)["ok"], "the dashboard did not refresh its history twice within 8 s"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    page.send("screenshot %s" % shot)
    assert reply(page, timeout=30)["ok"]
    assert shot.stat().st_size > 10000

    # tooltips: the time under the pointer and each line's value then
    ask(page, 'hover 0.99 0.5 [data-testid="chart-dev0"]')
    tip = ask(page, 'text [data-testid="tooltip-dev0"]')["text"]
    assert re.search(r"\b\d\d:\d\d:\d\d\b", tip) and "DRAM" in tip and "L1" in tip, tip
    assert "26.6%" in tip, tip  # (3 GiB + 200 MiB) / 12 GiB at the newest sample
    ask(page, 'hover 0.99 0.5 [data-testid="chart-procs"]')
    tip = ask(page, 'text [data-testid="tooltip-procs"]')["text"]
    assert re.search(r"\b\d\d:\d\d:\d\d\b", tip) and "%d" % a.pid in tip and "3.4 GB" in tip, tip
    ask(page, 'key ArrowLeft [data-testid="chart-power"]')  # the keyboard reads the values too
    tip = ask(page, 'text [data-testid="tooltip-power"]')["text"]
    assert re.search(r"\b\d\d:\d\d:\d\d\b", tip) and "Device 1" in tip and " W" in tip, tip

    # axes: round byte steps, time on round seconds or minutes, percentages in quarters
    assert_round_byte_ticks(ask(page, 'attr data-y-ticks [data-testid="chart-procs"]')["value"].split("|"))
    for chart in ("procs", "dev1", "temperature"):
        assert_round_time_ticks(ask(page, 'attr data-x-ticks [data-testid="chart-%s"]' % chart)["value"].split("|"))
    assert ask(page, 'attr data-y-ticks [data-testid="chart-dev1"]')["value"] == "0%|25%|50%|75%|100%"

    # temperature and power history, per device (the simulation reads both)
    for chart in ("temperature", "power"):
        for dev in (0, 1):
            value = ask(page, 'attr data-value [data-testid="legend-%s-%d"]' % (chart, dev))["value"]
            assert float(value) > 0, (chart, dev, value)
    assert float(ask(page, 'attr data-value [data-testid="legend-temperature-1"]')["value"]) > \
        float(ask(page, 'attr data-value [data-testid="legend-temperature-0"]')["value"])  # the fuller one is warmer

    # dark mode follows prefers-color-scheme
    ask(page, "emulate dark")
    assert luminance(ask(page, "style background-color body")["value"]) < 0.15
    assert luminance(ask(page, "style background-color [data-testid=\"device-card-0\"]")["value"]) < 0.2
    assert luminance(ask(page, "style color body")["value"]) > 0.8
    # a phone-sized screen: nothing wider than the viewport, tables scroll in their own box
    assert ask(page, "viewport 480 900")["ok"]
    assert ask(page, "wait-responses /api/history?seconds=10 1 8000")["ok"]
    layout = ask(page, "layout")
    assert layout["innerWidth"] == 480 and layout["scrollWidth"] <= 480, layout
    shot = ARTIFACTS / "dashboard-480-dark.png"
    assert ask(page, "screenshot %s" % shot, timeout=30)["ok"]
    ask(page, "emulate light")
    assert luminance(ask(page, "style background-color body")["value"]) > 0.9

    page.send("errors")
    errors = reply(page)["errors"]
    assert errors == [], "the dashboard logged errors: %s" % errors
    page.send("quit")
    assert page.wait(20) == 0
    me.close()


def test_dashboard_falls_back_to_polling_when_no_event_stream_is_free(server_factory, processes):
    chromium = tool("chromium", "/usr/bin/chromium")
    node = tool("node")
    playwright_ready()
    server = server_factory(args=["--http", "127.0.0.1:0"])
    url = dashboard_url(server)
    host, port = url[len("http://"):].rstrip("/").rsplit(":", 1)
    streams = []
    try:
        for _ in range(8):  # every stream the server allows one address (HTTP_MAX_STREAMS_PER_CLIENT)
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"GET /api/events HTTP/1.1\r\nHost: test\r\n\r\n")
            streams.append(s)
            seen = b""
            while b"event: update" not in seen:  # the stream is open once its first event comes
                chunk = s.recv(65536)
                assert chunk, "the server closed an event stream"
                seen += chunk
        assert get(url + "api/events").status == 503
        page = processes([node, str(BROWSER_DIR / "dashboard_check.mjs"), url],
                         env=dict(os.environ, CHROMIUM=chromium), cwd=str(BROWSER_DIR))
        assert reply(page, timeout=30)["cards"] == 2
        me = RawClient(server.socket)
        me.alloc(0, L1, 0x10000, 33 * MiB)
        me.sync()
        page.send("wait-bytes 0 l1 %d 2500" % (33 * MiB))
        assert reply(page)["ok"], "the polling dashboard did not show the allocation"
        page.send("text [data-testid=\"status\"]")
        assert "Polling" in reply(page)["text"]
        page.send("errors")
        # the refused stream itself is reported by Chromium; nothing else may be
        errors = [e for e in reply(page)["errors"] if "/api/events" not in e and "EventSource" not in e
                  and "503" not in e]
        assert errors == [], errors
        page.send("quit")
        assert page.wait(20) == 0
        me.close()
    finally:
        for s in streams:
            s.close()


def newest_dram(url):
    """DRAM on every device at the history's newest sample."""
    h = get_json(url + "api/history?seconds=1")
    return sum(d["dram_allocated"][-1] or 0 for d in h["devices"]) if h["timestamps"] else None


def test_process_chart_keeps_the_top_8_and_counts_short_lived_processes_in_other(server_factory, processes):
    server = server_factory(args=["--http", "127.0.0.1:0", "--history-interval", "250"])
    url = dashboard_url(server)
    # eight long-lived processes, the biggest users of memory
    big = [client(processes, server) for _ in range(8)]
    sizes = [(100 + 10 * i) * MiB for i in range(8)]
    for i, (p, size) in enumerate(zip(big, sizes)):
        do(p, "alloc %d %d 0x800000000 %d" % (i % 2, DRAM, size))
        do(p, "sync")
    base = sum(sizes)
    page, ready = open_page(processes, url)
    assert ready["cards"] == 2

    # 60 short-lived processes, ten at a time: each batch lives through a history sample
    short = []
    for batch in range(6):
        ps = [client(processes, server) for _ in range(10)]
        for j, p in enumerate(ps):
            do(p, "alloc %d %d 0x900000000 %d" % (j % 2, DRAM, 5 * MiB))
            do(p, "sync")
        wait_for(lambda: newest_dram(url) == base + 50 * MiB, 5, what="a history sample with batch %d" % batch)
        for j, p in enumerate(ps):
            do(p, "free %d 0x900000000" % (j % 2))
            do(p, "sync")
            p.send("exit")
            assert p.wait() == 0
        short += [p.pid for p in ps]
        wait_for(lambda: newest_dram(url) == base, 5, what="a history sample after batch %d" % batch)
        assert ask(page, 'count [data-testid^="legend-procs-"]')["n"] <= 9

    # the legend: the eight, and "other" holding the 50 MiB each batch had while it lived
    other = '[data-testid="legend-procs-other"]'
    shown = ask(page, "wait-attr 10000 data-max %d %s" % (50 * MiB, other))
    assert shown["ok"], "'other' peaked at %s, not at one batch's 50 MiB" % shown["value"]
    names = set(ask(page, 'attrs data-testid [data-testid^="legend-procs-"]')["values"])
    assert names == {"legend-procs-%d" % p.pid for p in big} | {"legend-procs-other"}, names
    assert not names & {"legend-procs-%d" % pid for pid in short}
    ask(page, 'hover 0.99 0.5 [data-testid="chart-procs"]')
    assert ask(page, 'count [data-testid="tooltip-procs"] [data-line]')["n"] == 9

    # a big process that exits folds away: its line goes, its past is in "other"
    gone = big[0]
    do(gone, "free 0 0x800000000")
    do(gone, "sync")
    gone.send("exit")
    assert gone.wait() == 0
    assert ask(page, 'wait-gone 5000 [data-testid="legend-procs-%d"]' % gone.pid)["ok"]
    shown = ask(page, "wait-attr 5000 data-max %d %s" % (50 * MiB + sizes[0], other))
    assert shown["ok"], "'other' peaked at %s, not at 50 MiB + the exited process's %d" % (shown["value"], sizes[0])
    assert ask(page, 'count [data-testid^="legend-procs-"]')["n"] == 8
    assert ask(page, "errors")["errors"] == []
    page.send("quit")
    assert page.wait(20) == 0


@pytest.fixture(scope="module")
def stack_app(tmp_path_factory):
    return build_c_client(tmp_path_factory, "stack_app.c")


def test_dashboard_drills_down_from_a_process_and_a_leak_to_buffers_and_stacks(server_factory, processes,
                                                                               stack_app):
    server = server_factory(args=["--http", "127.0.0.1:0"])
    url = dashboard_url(server)
    # one DRAM buffer from load_weights(), 150 L1 buffers from make_cache(): more than a page (100)
    app = processes([stack_app, "150", "600000"], env=server.env(extra={"TT_ALLOC_STACK_TRACE": "1"}))
    app.expect(r"^ready 0")
    page, _ = open_page(processes, url)
    assert ask(page, "wait-row %d 0 5000" % app.pid)["ok"]

    # a process row: its live buffers, newest first, a page at a time
    ask(page, 'click [data-testid="drill-process-%d-0"]' % app.pid)
    assert ask(page, 'wait-selector 5000 [data-testid="drilldown"][open] [data-testid^="drill-buffer-"]')["ok"]
    assert ask(page, 'text [data-testid="drill-summary"]')["text"].startswith("100 of 151 live buffers")
    assert ask(page, 'count [data-testid^="drill-buffer-"]')["n"] == 100
    ask(page, 'click [data-testid="drill-more"]')
    dram = '[data-testid="drill-buffer-0-0x800000000"]'  # the oldest: on the second page
    assert ask(page, "wait-selector 5000 %s" % dram)["ok"]
    assert ask(page, 'count [data-testid^="drill-buffer-"]')["n"] == 151
    assert ask(page, 'count [data-testid="drill-more"][hidden]')["n"] == 1  # nothing more to show
    assert re.search(r"load_weights \(stack_app\.c:\d+\)", ask(page, "text %s" % dram)["text"])
    ask(page, "click %s summary" % dram)  # the whole stack
    assert re.search(r"main \(stack_app\.c:\d+\)", ask(page, "text %s" % dram)["text"])
    assert ask(page, "viewport 480 900")["ok"]  # the open drill-down fits a small screen too
    layout = ask(page, "layout")
    assert layout["scrollWidth"] <= 480, layout
    assert ask(page, "viewport 1400 1000")["ok"]
    ask(page, 'click [data-testid="drill-close"]')
    assert ask(page, 'wait-gone 2000 [data-testid="drilldown"][open]')["ok"]

    # it exits holding all of them: its leak row lists every kept buffer, oldest first
    app.kill()
    wait_for(lambda: get_json(url + "api/leaks")["leak_reports_total"] == 1, 5, what="the leak report")
    leak = '[data-testid="leak-%d"]' % app.pid
    assert ask(page, "wait-selector 5000 %s" % leak)["ok"]
    ask(page, "click %s" % leak)
    assert ask(page, "wait-selector 5000 %s" % dram)["ok"]
    assert ask(page, 'text [data-testid="drill-summary"]')["text"].startswith("100 of 151 leaked buffers")
    ask(page, 'click [data-testid="drill-more"]')
    last = '[data-testid="drill-buffer-0-%#x"]' % (0x10000 + 149 * 0x1000)
    assert ask(page, "wait-selector 5000 %s" % last)["ok"]
    assert re.search(r"make_cache \(stack_app\.c:\d+\)", ask(page, "text %s" % last)["text"])
    assert ask(page, 'count [data-testid^="drill-buffer-"]')["n"] == 151
    shot = ARTIFACTS / "dashboard-drilldown.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert ask(page, "screenshot %s" % shot, timeout=30)["ok"]
    assert ask(page, "errors")["errors"] == []
    page.send("quit")
    assert page.wait(20) == 0
