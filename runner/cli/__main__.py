"""`python -m runner.cli`: the `wanform` command."""

from runner.cli import entry

entry()
