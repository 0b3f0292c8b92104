"""`python -m runner.cli`: the `wanform` command."""

from runner.console import entry

entry()
