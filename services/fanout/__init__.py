"""Fan-out: persists the post log, fans posts out into feeds, emits live events and
aggregates interaction counters, with aiokafka batch consumers inside a faust worker that
serves only as the process shell (see app.py)."""
