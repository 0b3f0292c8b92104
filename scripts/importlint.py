"""Check the import contracts of pyproject.toml (`[tool.importlinter]`) with import-linter.

import-linter reads the package from the file system, where an editable install has no
`wanform/`: it reads the folders laid out as they install (scripts/installed.py).
Run: python scripts/importlint.py [lint-imports options]
"""

from __future__ import annotations

import os
import subprocess
import sys

from installed import REPO, installed_layout

LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def main() -> int:
    with installed_layout() as folder:
        command = [sys.executable, "-c", LINT_IMPORTS, "--config", str(REPO / "pyproject.toml")]
        done = subprocess.run(
            [*command, "--no-cache", "--no-logo", *sys.argv[1:]],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": folder},
            check=False,
        )
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
