"""Data-driven recipes: one job per row of a data file or per file of a glob, named by its key,
templated, combined with `matrix`, chained with `from:`, planned and run row by row."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

import wanform
from wanform.runner.cli import main
from wanform.runner.recipes.table import read_table

EMULATOR = wanform.RunSettings(target="emulator", emulator_speed=50)
CLEAN_ENV = {"PATH": os.environ.get("PATH", "")}
CSV = """\ufeffsku,title,accent,seed
A-1,desk lamp,#C2D1E6,1
A-2,kettle,#1F2A44,2
A-3,toaster,#F2B880,3
"""
PLACE = """\
model: wan2.7-image
rows: products.csv
key: sku
prompt: "The {title} on a wooden table, sku {sku}."
palette:
  - {hex: "{accent}", ratio: 50}
  - {hex: "#FFFFFF", ratio: 30}
  - {hex: "#000000", ratio: 20}
seed: {column: seed}
size: 1K
n: 1
"""


def project(root: Path, models) -> wanform.Project:
    return wanform.Project(root, models=models, env=CLEAN_ENV)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A project of one recipe over a three-row CSV with a byte order mark."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "products.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "recipes" / "place.yaml").write_text(PLACE, encoding="utf-8")
    return tmp_path


def jobs(root: Path, models) -> dict[str, dict]:
    """The validated jobs by name, with their values."""
    found = project(root, models).validate()
    assert found.ok(), [
        str(f.location) + " " + f.problem.message for f in found.validation.report.findings
    ]
    return {checked.job.name: checked.job.values for checked in found.validation.jobs}


def test_one_job_per_row_named_by_its_key(shop, models):
    """Each row is a job `place[sku=...]` whose templates and `{column:}` values take its cells,
    typed where a cell is given whole."""
    found = jobs(shop, models)
    assert list(found) == ["place[sku=A-1]", "place[sku=A-2]", "place[sku=A-3]"]
    kettle = found["place[sku=A-2]"]
    assert kettle["prompt"] == "The kettle on a wooden table, sku A-2."
    assert kettle["palette"][0] == {"hex": "#1F2A44", "ratio": 50} and kettle["seed"] == 2


def test_reordered_and_added_rows_leave_other_jobs_alone(shop, models):
    """Reordering the rows and adding one keeps every other job's name and values."""
    before = jobs(shop, models)
    header, *rows = CSV.splitlines()
    text = "\n".join([header, "B-9,radio,#000000,9", *reversed(rows)]) + "\n"
    (shop / "recipes" / "products.csv").write_text(text, encoding="utf-8")
    after = jobs(shop, models)
    assert set(after) == set(before) | {"place[sku=B-9]"}
    assert all(after[name] == values for name, values in before.items())


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("products.jsonl", '{"sku": "A-1", "title": "lamp"}\n{"sku": "A-2", "title": "kettle"}\n'),
        ("products.json", '[{"sku": "A-1", "title": "lamp"}, {"sku": "A-2", "title": "kettle"}]'),
        ("products.yaml", "- {sku: A-1, title: lamp}\n- {sku: A-2, title: kettle}\n"),
    ],
)
def test_rows_from_json_lines_json_and_yaml(shop, models, name, text):
    """JSON Lines, JSON and YAML data files give the same jobs as a CSV (a YAML one outside the
    recipe globs, which would take it for a recipe)."""
    (shop / "data").mkdir()
    (shop / "data" / name).write_text(text, encoding="utf-8")
    recipe = "model: wan2.7-image\nrows: ../data/{}\nkey: sku\nprompt: The {{title}}.\nn: 1\n"
    (shop / "recipes" / "place.yaml").write_text(recipe.format(name), encoding="utf-8")
    found = jobs(shop, models)
    assert {k: v["prompt"] for k, v in found.items()} == {
        "place[sku=A-1]": "The lamp.",
        "place[sku=A-2]": "The kettle.",
    }


def test_files_glob_makes_a_job_per_file(shop, models):
    """`files:` makes one job per matched file, keyed by its path, with {stem}, {name}, {path}."""
    photos = shop / "recipes" / "photos"
    photos.mkdir()
    for stem in ("b", "a"):
        (photos / f"{stem}.png").write_bytes(b"")  # named in prompts only, never read
    recipe = "model: wan2.7-image\nfiles: photos/*.png\nprompt: '{stem} {name} {path}'\nn: 1\n"
    (shop / "recipes" / "place.yaml").write_text(recipe, encoding="utf-8")
    found = jobs(shop, models)
    assert {k: v["prompt"] for k, v in found.items()} == {
        "place[path=photos/a.png]": "a a.png photos/a.png",
        "place[path=photos/b.png]": "b b.png photos/b.png",
    }


def test_rows_times_matrix_with_exclude_and_include(shop, models):
    """Rows combine with the matrix; `exclude` drops combinations a row's cells and matrix values
    match, `include` adds values to those it matches."""
    matrix = (
        "matrix:\n  size: [1K, 2K]\n  exclude:\n    - {sku: A-3}\n    - {title: kettle, size: 2K}\n"
    )
    matrix += "  include:\n    - {sku: A-1, watermark: true}\n"
    text = PLACE.replace("size: 1K\n", "") + matrix
    (shop / "recipes" / "place.yaml").write_text(text, encoding="utf-8")
    found = jobs(shop, models)
    assert list(found) == [
        "place[sku=A-1,size=1K]",
        "place[sku=A-1,size=2K]",
        "place[sku=A-2,size=1K]",
    ]
    assert [v.get("watermark") for v in found.values()] == [True, True, None]


def test_a_row_takes_the_output_of_the_same_key_upstream(shop, models):
    """`from: "place[sku={sku}]"` links each row's job to the upstream job of its own key."""
    hero = "model: wanx2.1-imageedit\nfunction: super_resolution\nrows: products.csv\nkey: sku\n"
    hero += 'prompt: Sharper.\nupscale_factor: 2\nn: 1\ninputs:\n  - from: "place[sku={sku}]"\n'
    hero += "matrix:\n  exclude:\n    - {title: kettle}\n"
    (shop / "recipes" / "hero.yaml").write_text(hero, encoding="utf-8")
    found = project(shop, models).validate()
    links = {c.job.name: [ln.upstream for ln in c.links] for c in found.validation.jobs}
    assert found.ok() and {k: v for k, v in links.items() if k.startswith("hero")} == {
        "hero[sku=A-1]": ["recipes/place.yaml::place[sku=A-1]"],
        "hero[sku=A-3]": ["recipes/place.yaml::place[sku=A-3]"],
    }


def _plan(root: Path, models) -> dict[str, tuple[str, list[str]]]:
    planned = project(root, models).plan(target="emulator").plan
    return {job.key.split("::")[1]: (job.status, job.reasons) for job in planned.jobs}


def test_one_cell_changes_one_job_in_plan_and_run(shop, models):
    """After a run, editing one CSV cell makes `plan` show exactly that row's job changed, and
    `run` make exactly its images; a row removed is an orphaned job."""
    first = project(shop, models).run(settings=EMULATOR)
    assert first.exit_code == 0 and first.result.summary()["images"] == 3
    assert {v[0] for v in _plan(shop, models).values()} == {"unchanged"}  # the plan cache filled
    csv = shop / "recipes" / "products.csv"
    csv.write_text(CSV.replace("kettle", "steel kettle"), encoding="utf-8")
    planned = _plan(shop, models)
    assert {k: v[0] for k, v in planned.items()} == {
        "place[sku=A-1]": "unchanged",
        "place[sku=A-2]": "changed",
        "place[sku=A-3]": "unchanged",
    }
    assert "row: title" in planned["place[sku=A-2]"][1]
    again = project(shop, models).run(settings=EMULATOR)
    made = [(job.job, len(job.images)) for job in again.result.jobs]
    assert again.exit_code == 0 and made == [("place[sku=A-2]", 1)]
    lock = json.loads((shop / "wanform.lock").read_text(encoding="utf-8"))
    assert sorted(lock["jobs"]) == [f"recipes/place.yaml::place[sku=A-{i}]" for i in (1, 2, 3)]
    csv.write_text("".join(CSV.splitlines(keepends=True)[:3]), encoding="utf-8")
    assert _plan(shop, models)["place[sku=A-3]"][0] == "orphaned"


def test_a_template_change_changes_every_row(shop, models):
    """Editing the prompt template changes every row's job."""
    project(shop, models).run(settings=EMULATOR)
    recipe = shop / "recipes" / "place.yaml"
    recipe.write_text(PLACE.replace("wooden", "marble"), encoding="utf-8")
    assert {v[0] for v in _plan(shop, models).values()} == {"changed"}


def test_report_shows_each_rows_cells_and_searches_them(shop, models):
    """`wanform report` heads a data-driven recipe's cards once, shows each job's row, and puts
    `column:value` in what its search matches."""
    done = CliRunner().invoke(main, ["report", "--root", str(shop)], env=CLEAN_ENV)
    assert done.exit_code == 0, done.output
    page = (shop / "report" / "index.html").read_text(encoding="utf-8")
    assert page.count('<h2 class="group">recipes/place.yaml: a job per row') == 1
    assert "<dt>title</dt><dd>kettle</dd>" in page
    assert "title:kettle" in page and "sku:a-2" in page


def test_a_jobs_repr_leaves_out_its_recipes_rows(shop, models):
    """A job's repr (which asyncio.run builds of a run's result, for every job) does not hold
    every row of its recipe: a 10,000-row run would hold 10,000 copies of the table."""
    found = project(shop, models).validate()
    text = repr(found.validation.jobs[0].job)
    assert "A-2" not in text and "toaster" not in text


def test_reading_a_small_data_file_sets_aside_little_memory(shop):
    """Reading a data file allocates about its size, not the 64 MB cap (read(n) would set aside
    n bytes for every recipe that reads one)."""
    tracemalloc.start()
    try:
        read_table(shop / "recipes" / "products.csv", "products.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_rows_share_what_no_template_reaches(shop, models):
    """Jobs of different rows hold one copy of a value without a template below it (the brand
    colours of a palette), not one each."""
    first, second = list(jobs(shop, models).values())[:2]
    assert first["palette"][1] is second["palette"][1]
