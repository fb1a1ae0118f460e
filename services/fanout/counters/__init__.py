"""The counters path: aggregate `herald.interactions.v1` into post and channel counters."""
