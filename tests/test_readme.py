"""The README's YAML examples are what the code accepts: the recipes pass the recipe schema, the
project file the project schema, the scenario loads; its generated parts are the code's."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from wanform.emulator.state.faultbook import load_scenario
from wanform.spec.schema import SchemaCheck
from wanform.spec.schemagen import project_schema

README = Path(__file__).resolve().parents[1] / "README.md"
RECIPE, PROJECT, CHAINED, CATALOGUE, SCENARIO, STORE = re.findall(
    r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S
)


def test_readme_recipe_passes_the_recipe_schema():
    """The README's recipe is a wan2.7-image-pro recipe without a single schema problem."""
    recipe = yaml.safe_load(RECIPE)
    assert recipe["model"] == "wan2.7-image-pro" and SchemaCheck("recipe").problems(recipe) == []


def test_readme_project_file_passes_the_project_schema():
    """The README's wanform.yaml has every key the project schema lists, and no problem."""
    project = yaml.safe_load(PROJECT)
    # storage: the example of "Storing images outside git" shows it
    assert set(project) == set(project_schema()["properties"]) - {"region", "storage"}
    assert SchemaCheck("project").problems(project) == []


def test_readme_store_project_file_passes_the_project_schema():
    """The project file of "Storing images outside git" (an s3:// out and its storage) is valid."""
    doc = yaml.safe_load(STORE)
    assert doc["out"].startswith("s3://")
    assert SchemaCheck("project").problems(doc) == []


def test_readme_chained_recipe_is_the_example_in_recipes():
    """The README's chained recipe is recipes/chains/scene-3-print.yaml, keys and values."""
    shipped = yaml.safe_load((README.parent / "recipes/chains/scene-3-print.yaml").read_text())
    chained = yaml.safe_load(CHAINED)
    assert SchemaCheck("recipe").problems(chained) == []
    assert chained == {k: v for k, v in shipped.items() if k not in ("description", "seed")}


def test_readme_catalogue_recipe_is_the_example_in_recipes():
    """The README's data-driven recipe is recipes/catalogue/place.yaml (which `wanform validate
    recipes/` checks in CI), keys and values."""
    shipped = yaml.safe_load((README.parent / "recipes/catalogue/place.yaml").read_text())
    catalogue = yaml.safe_load(CATALOGUE)
    assert catalogue == {k: v for k, v in shipped.items() if k != "description"}


def test_readme_scenario_loads(tmp_path):
    """The README's fault scenario loads as its four rules, in order."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    assert [rule["action"] for rule in load_scenario(scenario)] == [
        "error",
        "partial",
        "drop",
        "cut",
    ]


def test_readme_guesses_table_and_suite_counts_are_the_codes() -> None:
    """The guesses table, the count of contract cases and what a recording bills are what
    scripts/readme_sync.py writes from the code now."""
    script = README.parent / "scripts" / "readme_sync.py"
    loader = importlib.util.spec_from_file_location("readme_sync", script)
    assert loader is not None and loader.loader is not None
    sync = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(sync)
    text = README.read_text(encoding="utf-8")
    assert sync.regenerate(text) == text, "README.md drifted: run python scripts/readme_sync.py"
