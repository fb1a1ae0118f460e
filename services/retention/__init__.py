"""Retention: the only service that deletes content — partitions (content keys' too),
expired posts, media, Kafka topic configs — and records what it destroyed.

One module per job, run in order by `run.run_once` (the service loop and `--once` in
`service.py`): `partitions` (create ahead, drop expired day partitions), `expiry` (posts of
shorter-retention channels), `channels` (deleted channels), `media` (rows and files),
`trims` (the history_trimmed outbox), `topics` (Kafka retention configs). `posts` and
`batches` are the row-deleting pieces they share; `ledger` records each deletion in the
deletion ledger.
"""
