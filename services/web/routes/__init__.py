"""The web app's pages, one router per area: `shell` (W1: install + offline shell and the
fallback home), `follower/` and `admin/`, `operator/` (added beside it)."""
