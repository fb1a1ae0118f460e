"""The parts of the SSE broadcast benchmark (`bench.sse_broadcast`): client processes, the
bare broadcaster it is compared with, and the accounting of every stream."""
