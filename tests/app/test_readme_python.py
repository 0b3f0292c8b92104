"""The README's "From Python" examples run as written, offline, against a scratch project."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    """The python blocks of the README's "From Python" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_python_examples_run(root, tmp_path_factory, monkeypatch, capsys):
    """Validate, plan, a run on the embedded emulator with progress, and a refusal caught, each
    printing what the README says it does."""
    here = tmp_path_factory.mktemp("readme")
    shutil.copytree(root, here / "my-project")
    monkeypatch.chdir(here)
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    blocks = examples()
    assert len(blocks) == 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("pending: True {'wan2.7-image': {'images': 1")
    assert printed[1:3] == ["succeeded fox", "exit 0 images 1"]
    assert printed[3].startswith("1 this run would bill up to 1 images, over --max-images 0")
