"""The budget bounds the worst case: `plan`'s estimate and `run --max-images/--max-cost` count
every job at the most images its request can bill, per model and mode, under every guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wanform.runner.cli import main
from wanform.spec.models import MODELS

CLEAN = {"DASHSCOPE_API_KEY": None, "DASHSCOPE_HTTP_BASE_URL": None, "WANFORM_VARIANTS": None}
PORTRAIT = "inputs:\n  - path: images/portrait.png\n"
# (what it shows, recipe, the most images its request can bill)
RECIPES = [
    ("wan2.7 text-to-image, n omitted: wanform sends 1", "model: wan2.7-image\n", 1),
    ("wan2.7 edit, n 4", f"model: wan2.7-image\nn: 4\n{PORTRAIT}", 4),
    (
        "wan2.7-pro image set, n 12",
        "model: wan2.7-image-pro\nenable_sequential: true\nn: 12\nsize: 1K\n",
        12,
    ),
    ("wan2.6 edit, n 3", f"model: wan2.6-image\nn: 3\n{PORTRAIT}", 3),
    (
        "wan2.6 interleave, max_images 4",
        "model: wan2.6-image\nenable_interleave: true\nmax_images: 4\n",
        4,
    ),
    ("wan2.6 interleave, max_images omitted", "model: wan2.6-image\nenable_interleave: true\n", 5),
    ("wan2.5, n 4", f"model: wan2.5-i2i-preview\nn: 4\nsize: 1024*1024\n{PORTRAIT}", 4),
    (
        "wanx2.1, n 2",
        "model: wanx2.1-imageedit\nfunction: colorization\nn: 2\n"
        "inputs:\n  - path: images/grayscale-leaves.jpg\n",
        2,
    ),
]
VARIANTS = ["wan2.7.n_default=4", "wan2.7.n_default=1"]


def cli(root: Path, *args: str, variants: str = VARIANTS[0]):
    env = {**CLEAN, "WANFORM_VARIANTS": variants}
    result = CliRunner().invoke(main, [*args, "--root", str(root)], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def write(root: Path, recipe: str) -> str:
    (root / "job.yaml").write_text(f"prompt: A red fox in the snow.\n{recipe}")
    return str(root / "job.yaml")


def model_of(recipe: str) -> str:
    return recipe.split("\n")[0].removeprefix("model: ")


@pytest.mark.parametrize("variants", VARIANTS)
@pytest.mark.parametrize(("recipe", "most"), [r[1:] for r in RECIPES], ids=[r[0] for r in RECIPES])
def test_plan_estimates_the_worst_case(project, recipe: str, most: int, variants: str) -> None:
    """plan's billable images and cost are the most the job's request can bill, under both
    guesses of wan2.7's default n."""
    path = write(project.root, recipe)
    result = cli(project.root, "plan", "-o", "json", path, variants=variants)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    price = MODELS[model_of(recipe)].price_cny
    assert (summary["billable_images"], summary["estimated_cost_cny"]) == (
        most,
        round(most * price, 6),
    )


@pytest.mark.parametrize(("recipe", "most"), [r[1:] for r in RECIPES], ids=[r[0] for r in RECIPES])
def test_run_refuses_a_budget_below_the_worst_case(project, recipe: str, most: int) -> None:
    """--max-images one below the worst case, or --max-cost a cent below its price, refuses the
    run before anything is sent; the worst case itself passes the budget."""
    path = write(project.root, recipe)
    cost = most * MODELS[model_of(recipe)].price_cny
    for limit in (("--max-images", str(most - 1)), ("--max-cost", f"{cost - 0.01:.2f}")):
        result = cli(project.root, "run", "--target", "emulator", *limit, path)
        assert result.exit_code == 1, result.output
        assert "nothing was sent" in result.output
    assert (
        f"would bill up to {most} images"
        in cli(
            project.root, "run", "--target", "emulator", "--max-images", str(most - 1), path
        ).output
    )
