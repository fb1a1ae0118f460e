"""Feed: the client HTTP API — directory, follows, history, timeline, interactions, SSE."""
