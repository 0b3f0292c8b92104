"""The `wanform` process: signal handlers first, then the command line, then `exits.leave`."""

from __future__ import annotations

from typing import NoReturn

from wanform.runner import signals
from wanform.runner.exits import leave


def entry() -> NoReturn:
    """Run the command named on the command line and end the process with its exit status."""
    signals.install()  # before click and the commands are imported: a signal then ends in order too
    try:
        from wanform.runner.cli import main

        main()
        code = 0
    except signals.Signalled as stop:
        stop.end()
    except SystemExit as done:
        if not isinstance(done.code, int | None):
            raise  # a message for Python to print (none of wanform's commands exits so)
        code = done.code or 0
    swallowed = signals.unheeded()
    if swallowed is not None:  # raised where Python could not raise it: it still decides the end
        signals.Signalled(swallowed).end()
    try:
        leave(code)
    except signals.Signalled as stop:  # while flushing the output
        stop.end()
