"""The fan-out's batch consumer, in three parts: `records` (what a batch holds and what a
handler answers), `policy` (which failures are retried, for how long, and what a
dead-lettered failure says) and `loop` (poll → batch → apply → dead-letter → commit)."""
