"""`python -m onemap` runs the command line."""

from onemap.cli import app

app()
