"""Run mypy over the package as it installs: `wanform` with spec/, runner/ and emulator/ as its
parts.

mypy cannot follow setuptools' package-dir mapping, so this checks the folders laid out under a
temporary `wanform/` (scripts/installed.py). Run: python scripts/typecheck.py [mypy options]
"""

from __future__ import annotations

import subprocess
import sys

from installed import REPO, installed_layout


def main() -> int:
    with installed_layout() as folder:
        command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
        done = subprocess.run(
            [*command, *sys.argv[1:]], cwd=folder, env={"MYPYPATH": folder}, check=False
        )
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
