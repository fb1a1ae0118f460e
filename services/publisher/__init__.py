"""Publisher: the admin HTTP API — channels, admins, media and posts into Kafka."""
