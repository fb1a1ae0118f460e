"""Herald's one metrics catalogue: every metric of every service is declared in this package.

`common` holds what every service exports; each service's own metrics live in the module
named after it. Conventions (Prometheus): `herald_<service>_…`, counters end in `_total`,
durations are `_seconds` histograms, sizes are base units; labels take few values (route
template, status class, topic, outcome) and never an account, post or channel id.
"""
