"""The README's YAML examples are what the code accepts: the recipe passes the recipe schema, the
scenario loads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from emulator.state.faults import load_scenario
from spec.schema import SchemaCheck
from spec.schemagen import recipe_schema

README = Path(__file__).resolve().parents[1] / "README.md"
RECIPE, SCENARIO = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_recipe_passes_the_recipe_schema():
    """The README's recipe is a wan2.7-image-pro recipe without a single schema problem."""
    recipe = yaml.safe_load(RECIPE)
    assert (
        recipe["model"] == "wan2.7-image-pro"
        and SchemaCheck(recipe_schema()).problems(recipe) == []
    )


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
