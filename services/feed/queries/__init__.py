"""SQL of the feed service, one module per concept. Every statement filters on its
future distribution key (posts: channel_id; follows and feed_items: account_id)."""
