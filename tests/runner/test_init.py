"""`wanform init` and `wanform schema --write`: a new project that validates and runs as made,
its editor schemas where its modelines point, and nothing written over an existing file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from wanform.runner.cli import main
from wanform.runner.exits import Exit
from wanform.spec.schemagen import SCHEMA_DIR

CLEAN_ENV = dict.fromkeys(("DASHSCOPE_API_KEY", "DASHSCOPE_HTTP_BASE_URL", "WANFORM_VARIANTS"))


def invoke(*args: str):
    """The CLI in this process, with no DashScope key: targets default to the emulator."""
    return CliRunner().invoke(main, list(args), env=CLEAN_ENV, catch_exceptions=False)


def modeline(path: Path) -> Path:
    """The file a YAML file's schema comments name (yaml-language-server's on the first line,
    JetBrains' on the second: the same file), resolved from its folder."""
    first, second = path.read_text(encoding="utf-8").splitlines()[:2]
    found = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert found, first
    assert second == f"# $schema: {found[1]}"
    return (path.parent / found[1]).resolve()


def test_init_makes_a_project_that_validates_and_runs(tmp_path, monkeypatch):
    """A project made by init passes validate and runs on the embedded emulator, as it says."""
    made = invoke("init", str(tmp_path / "new"))
    assert made.exit_code == 0, made.output
    monkeypatch.chdir(tmp_path / "new")
    checked = invoke("validate")
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("ok: 1 recipes (1 jobs), 0 invalid, 0 errors, 0 warnings")
    ran = invoke("run", "--emulator-speed", "50")
    assert ran.exit_code == 0, ran.output
    assert len(list((tmp_path / "new/out/example").glob("*.png"))) == 1


def test_init_points_the_modelines_at_schemas_it_wrote(tmp_path):
    """The recipe's and wanform.yaml's modelines name the schemas init wrote, equal to spec's."""
    assert invoke("init", str(tmp_path)).exit_code == 0
    recipe = modeline(tmp_path / "recipes/example.yaml")
    project = modeline(tmp_path / "wanform.yaml")
    assert recipe == (tmp_path / "schemas/recipe.schema.json").resolve()
    assert project == (tmp_path / "schemas/project.schema.json").resolve()
    for path in (recipe, project):
        assert json.loads(path.read_text()) == json.loads((SCHEMA_DIR / path.name).read_text())


def test_init_adds_to_an_existing_gitignore(tmp_path):
    """An existing .gitignore keeps its lines and gains only the entries it lacks."""
    (tmp_path / ".gitignore").write_text("*.pyc\nreport/", encoding="utf-8")
    assert invoke("init", str(tmp_path)).exit_code == 0
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\nreport/\n.wanform/\n"


@pytest.mark.parametrize(
    "existing", ["wanform.yaml", "recipes/example.yaml", "schemas/recipe.schema.json"]
)
def test_init_writes_nothing_over_a_file(tmp_path, existing):
    """With one of its files already there, init names it, exits 1 and writes nothing at all."""
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("mine\n", encoding="utf-8")
    refused = invoke("init", str(tmp_path))
    assert refused.exit_code == Exit.INVALID
    assert f"error: {tmp_path / existing} already exists" in refused.output
    assert (tmp_path / existing).read_text() == "mine\n"
    assert sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
    ) == [existing]


def test_schema_write_writes_the_editor_schemas(tmp_path):
    """`schema --write DIR` writes (and rewrites) the recipe and project schemas into DIR."""
    (tmp_path / "recipe.schema.json").write_text("{}", encoding="utf-8")
    written = invoke("schema", "--write", str(tmp_path))
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "project.schema.json",
        "recipe.schema.json",
    ]
    for path in tmp_path.iterdir():
        assert path.read_text() == (SCHEMA_DIR / path.name).read_text()
