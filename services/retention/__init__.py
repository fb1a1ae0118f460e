"""Retention: the only service that deletes content — partitions, expired posts, media,
Kafka topic configs."""
