"""Live updates: the consumer of herald.live.v1, the per-process hub of SSE connections,
the event ids and the replay from Postgres after a reconnect."""
