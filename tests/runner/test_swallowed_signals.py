"""A signal whose `Signalled` Python swallowed (raised in a `__del__` or an import-system weakref
callback, as CI once caught: the run went on and exited 0) still ends the run in order."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SWALLOW = """
import os, signal, time
from wanform.runner import signals

signals.install()


class Dying:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler runs here, where its exception cannot propagate


Dying()
print("went on", signals.unheeded(), flush=True)
"""


def run(tail: str) -> subprocess.CompletedProcess:
    code = SWALLOW + textwrap.dedent(tail)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_held_block_raises_a_signal_that_was_swallowed():
    done = run(
        """
        try:
            with signals.held():
                print("ran the jobs")
        except signals.Signalled as stop:
            stop.end()
        """
    )
    assert done.stdout.splitlines() == ["went on 15"]
    assert done.returncode == 143 and "terminated" in done.stderr


def test_the_exit_status_is_the_signals_even_when_nothing_looked():
    done = run(
        """
        import sys
        from wanform.runner import console
        sys.argv = ["wanform", "--version"]
        console.entry()
        """
    )
    assert done.stdout.splitlines()[0] == "went on 15"
    assert done.returncode == 143, done.stderr
