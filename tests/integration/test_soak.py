"""A small soak (issue 5, guarantee 8), run by `make test`; `make soak` runs
the full size (8 producers x 1 M events). Producers report random events
through libttalloc while some of them are kill -9'd and the server is
kill -9'd and restarted; the final state must equal the survivors' live
sets byte for byte, and each killed producer must have exactly one leak
report listing exactly its buffers (bench/soak.py has the details)."""

from conftest import BUILD
from reliability_support import soak


def test_small_soak_with_producer_kills_and_a_server_restart_is_exact(tmp_path):
    lines = []
    figures = soak.run_soak(BUILD, producers=4, events=20_000, phases=10, kills=2, restarts=1, max_live=500,
                            seed=5, work_dir=tmp_path, log=lines.append,
                            kill_latency_limit=1000.0, resync_limit=2.0)
    print("\n".join(lines))
    assert figures["killed"] == 2
    assert figures["events_total"] == 4 * 20_000
    assert len(figures["resync_s"]) == 1
    assert figures["final_buffers"] > 0
