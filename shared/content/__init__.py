"""Crypto-shredding of post content: per-version content keys (`keys`) and the sealed
post bodies carried on `herald.posts.v1` (`sealing`)."""
