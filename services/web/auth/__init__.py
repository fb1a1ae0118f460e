"""Logging in and out of the web app: dev tokens or OpenID Connect, and the session
dependencies every page uses."""
