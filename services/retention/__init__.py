"""Retention: the only service that deletes content — partitions, expired posts, media,
Kafka topic configs.

One module per job, run in order by `run.run_once` (the service loop and `--once` in
`service.py`): `partitions` (create ahead, drop expired day partitions), `expiry` (posts of
shorter-retention channels), `channels` (deleted channels), `media` (rows and files),
`trims` (the history_trimmed outbox), `topics` (Kafka retention configs). `posts` and
`batches` are the row-deleting pieces they share.
"""
