"""A fragmentation out-of-memory on the simulated tt_metal, and what ttalloc
says about it (README: "Diagnosing out-of-memory, fragmentation and leaks").

    TT_ALLOC_TRACKING_ENABLED=1 TT_ALLOC_STACK_TRACE=1 \\
        PYTHONPATH=python:python/sim python3 examples/oom_fragmentation.py [--hold SECONDS]

Sixteen 768 MiB layers fill the 12 GiB of device 0's DRAM; every other one
is dropped, which frees 6 GiB in eight holes of 768 MiB; then a 1.5 GiB KV
cache does not fit anywhere. tt_metal raises its "Out of Memory" error, the
server keeps the post-mortem (tt_smi --oom, GET /api/oom), and the marks
around the steps let GET /api/diff say what each step did. With --hold the
process keeps its buffers for SECONDS before exiting, so the map can be seen.
"""

import argparse
import time

import tt_metal as ttm
import ttalloc

MiB = 1 << 20


def load_layers(device, count):
    return [ttm.Buffer(device, 768 * MiB) for _ in range(count)]


def drop_every_other_layer(layers):
    for layer in layers[::2]:
        layer.deallocate()
    return layers[1::2]


def allocate_kv_cache(device):
    return ttm.Buffer(device, 1536 * MiB)


def main():
    parser = argparse.ArgumentParser(description="A fragmentation out-of-memory on the simulated tt_metal.")
    parser.add_argument("--hold", type=float, default=0, metavar="SECONDS",
                        help="keep the buffers for SECONDS before exiting, to look at tt_smi --map")
    hold = parser.parse_args().hold
    device = ttm.CreateDevice(0)
    ttalloc.mark("start")
    layers = load_layers(device, 16)
    ttalloc.mark("loaded")
    layers = drop_every_other_layer(layers)
    ttalloc.mark("pruned")
    try:
        allocate_kv_cache(device)
    except RuntimeError as e:
        print("tt_metal:", e, flush=True)
    time.sleep(hold)  # the demo's time to look at the map
    ttm.CloseDevice(device)


if __name__ == "__main__":
    main()
