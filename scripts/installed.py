"""The package laid out as it installs, for tools that cannot follow setuptools' package-dir
mapping (an editable install resolves it with an import hook): a temporary `wanform/` of symbolic
links to package/__init__.py, spec/, runner/ and emulator/."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("spec", "runner", "emulator")


@contextlib.contextmanager
def installed_layout() -> Iterator[str]:
    """A temporary folder holding `wanform/` as it installs; put it on the path to import it."""
    with tempfile.TemporaryDirectory(prefix="wanform-layout-") as folder:
        package = Path(folder) / "wanform"
        package.mkdir()
        (package / "__init__.py").symlink_to(REPO / "package" / "__init__.py")
        for part in PARTS:
            (package / part).symlink_to(REPO / part, target_is_directory=True)
        yield folder
