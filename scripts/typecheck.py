"""Run mypy over the package as it installs: `wanform` with spec/, runner/ and emulator/ as its
parts.

mypy cannot follow setuptools' package-dir mapping (an editable install resolves it with an
import hook), so this lays the folders out under a temporary `wanform/` of symbolic links and
checks that. Run: python scripts/typecheck.py [mypy options]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("spec", "runner", "emulator")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="wanform-typecheck-") as folder:
        package = Path(folder) / "wanform"
        package.mkdir()
        (package / "__init__.py").symlink_to(REPO / "package" / "__init__.py")
        for part in PARTS:
            (package / part).symlink_to(REPO / part, target_is_directory=True)
        command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
        done = subprocess.run(
            [*command, *sys.argv[1:]], cwd=folder, env={"MYPYPATH": folder}, check=False
        )
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
