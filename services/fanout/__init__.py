"""Fan-out: a faust-streaming app that persists the post log, fans posts out into feeds,
emits live events and aggregates interaction counters."""
