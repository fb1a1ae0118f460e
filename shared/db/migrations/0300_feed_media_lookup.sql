-- Feed: find the visible posts that use a media file, for GET /v1/media/{id}, without
-- scanning a channel's posts. Partial: most posts carry no media.
CREATE INDEX posts_media_idx ON posts (channel_id, (body #>> '{media,media_id}'))
    WHERE (body #>> '{media,media_id}') IS NOT NULL;
