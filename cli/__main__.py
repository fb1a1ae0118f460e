"""`python -m cli`: the same as the `herald` console script."""

from cli.main import app

app(prog_name="herald")
