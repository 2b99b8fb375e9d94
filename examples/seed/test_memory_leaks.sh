#!/bin/bash
# test_memory_leaks.sh

# Start server
./build/programming_examples/allocation_server_poc &
SERVER_PID=$!
sleep 2

# Enable tracking
export TT_ALLOC_TRACKING_ENABLED=1

# Run tests
pytest tests/ --verbose

# Check if any memory leaked
LEAKED=$(python -c "
from query_stats import query_device_stats
stats = query_device_stats(0)
total = stats['dram_allocated'] + stats['l1_allocated']
print(total)
")

# Kill server
kill $SERVER_PID

# Fail if leaks detected
if [ "$LEAKED" -gt 0 ]; then
    echo "FAIL: Memory leak detected: $LEAKED bytes"
    exit 1
fi

echo "PASS: No memory leaks"
