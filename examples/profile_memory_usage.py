#!/usr/bin/env python3
"""Profile memory usage of a function (the seed's "Performance Profiling").

    export TT_ALLOC_TRACKING_ENABLED=1        # the script sets it when unset
    python3 examples/profile_memory_usage.py

    Function: my_model_inference
      Time: 0.004s
      DRAM change: +64.00 MB
      L1 change: 0 B
    profile_function(): 64.00 MB DRAM in 0.004 s, returned 'logits'
    track(): DRAM +64.00 MB (peak +96.00 MB), L1 0 B (peak +8.00 MB), 0.004 s

@ttalloc.profile prints the seed's lines at each call (deltas of the
device's totals, before and after); ttalloc.profile_function() returns the
result and the deltas (a MemoryDeltas) instead; ttalloc.track() also gives
the peak inside the block. The model runs on tt_metal: the real one when
installed, else the simulated one in python/sim. --device picks the device,
--socket the server.
"""

import argparse
import os
import sys

os.environ.setdefault("TT_ALLOC_TRACKING_ENABLED", "1")  # report this script's buffers
HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import ttalloc
except ImportError:  # run from a checkout without `pip install ./python`
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import ttalloc
try:
    import tt_metal as ttm
except ImportError:  # no tt-metal here: the simulated one
    sys.path.insert(0, os.path.join(HERE, "..", "python", "sim"))
    import tt_metal as ttm

MiB = 1024 * 1024


def main():
    parser = argparse.ArgumentParser(description="Profile the device memory of a function")
    parser.add_argument("--device", type=int, default=0, help="device to run on (default 0)")
    parser.add_argument("--socket", help="server socket")
    args = parser.parse_args()
    if args.socket:
        os.environ["TT_ALLOC_SERVER_SOCKET"] = args.socket
        ttalloc.socket_path = args.socket
    if not ttalloc.is_server_running():
        print(f"Error: Cannot connect to allocation server at {ttalloc.socket_path}")
        print("Start with: ttalloc-server")
        return 1

    device = ttm.CreateDevice(args.device)
    weights = []

    def model(layers):
        # weights stay on the device (+64 MB DRAM); activations and an L1
        # scratch buffer live only during the call (the peak)
        weights.append(ttm.Buffer(device, size=64 * MiB, buffer_type=ttm.BufferType.DRAM))
        activations = ttm.Buffer(device, size=32 * MiB, buffer_type=ttm.BufferType.DRAM)
        scratch = ttm.Buffer(device, size=8 * MiB, buffer_type=ttm.BufferType.L1)
        scratch.deallocate()
        activations.deallocate()
        return "logits"

    @ttalloc.profile(device_id=args.device)
    def my_model_inference():
        return model(layers=1)

    my_model_inference()

    result, deltas = ttalloc.profile_function(model, 1, device_id=args.device)
    print(f"profile_function(): {ttalloc.format_bytes(deltas.dram_allocated)} DRAM in "
          f"{deltas.elapsed_seconds:.3f} s, returned {result!r}")

    with ttalloc.track(args.device) as t:
        model(layers=1)
    print(f"track(): {t}")

    ttm.CloseDevice(device)  # frees the weights: nothing leaks
    return 0


if __name__ == "__main__":
    sys.exit(main())
