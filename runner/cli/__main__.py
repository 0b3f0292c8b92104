"""`python -m wanform.runner.cli`: the `wanform` command."""

from wanform.runner.console import entry

entry()
