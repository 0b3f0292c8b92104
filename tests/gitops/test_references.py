"""`from:` references between jobs as validation sees them: resolved among the project's recipes,
every problem at its line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

from wanform.runner.recipes.check import Validation, validate_paths

T2I = """\
name: {name}
model: wan2.7-image
prompt: A red fox in the snow.
size: 1K
n: {n}
"""
EDIT = """\
name: {name}
model: wan2.7-image
prompt: Make it winter.
inputs:
  - from: {ref}
n: 1
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / "recipes" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(result: Validation) -> list[tuple[str, int, int, str]]:
    return [
        (Path(f.location.file).name, f.location.line, f.location.column, f.problem.code)
        for f in result.report.errors()
    ]


def check(root: Path, *paths: Path) -> Validation:
    return validate_paths([str(p) for p in paths] or [str(root / "recipes")], root=root)


def test_a_chain_validates_and_links_each_input_to_its_upstream(tmp_path: Path) -> None:
    """A valid chain: each `from:` becomes a link to the upstream's key and image."""
    write(tmp_path, "fox", T2I.format(name="fox", n=2))
    write(tmp_path, "winter", EDIT.format(name="winter", ref="fox"))
    result = check(tmp_path)
    assert result.report.ok(), problems(result)
    winter = next(c for c in result.jobs if c.job.name == "winter")
    assert [(link.upstream, link.image) for link in winter.links] == [("recipes/fox.yaml::fox", 1)]


def test_a_cycle_is_reported_at_each_reference_with_its_jobs(tmp_path: Path) -> None:
    """Two jobs taking each other's output: a located error at both, naming the cycle."""
    write(tmp_path, "a", EDIT.format(name="a", ref="b"))
    write(tmp_path, "b", EDIT.format(name="b", ref="a"))
    result = check(tmp_path)
    assert problems(result) == [
        ("a.yaml", 5, 11, "reference-cycle"),
        ("b.yaml", 5, 11, "reference-cycle"),
    ]
    assert result.report.errors()[0].problem.message.endswith(
        "recipes/a.yaml::a -> recipes/b.yaml::b -> recipes/a.yaml::a"
    )


def test_a_self_reference_is_a_cycle(tmp_path: Path) -> None:
    """A job that takes its own output is a cycle of one."""
    write(tmp_path, "a", EDIT.format(name="a", ref="a"))
    assert problems(check(tmp_path)) == [("a.yaml", 5, 11, "reference-cycle")]


def test_a_name_two_recipes_declare_must_be_qualified(tmp_path: Path) -> None:
    """An ambiguous short name is a located error naming both keys; RECIPE_PATH::JOB resolves."""
    write(tmp_path, "one", T2I.format(name="fox", n=1))
    write(tmp_path, "two", T2I.format(name="fox", n=1))
    write(tmp_path, "edit", EDIT.format(name="edit", ref="fox"))
    result = check(tmp_path)
    assert problems(result) == [("edit.yaml", 5, 11, "ambiguous-job")]
    assert (
        "recipes/one.yaml::fox, recipes/two.yaml::fox" in result.report.errors()[0].problem.message
    )
    write(tmp_path, "edit", EDIT.format(name="edit", ref="recipes/two.yaml::fox"))
    assert check(tmp_path).report.ok()


def test_an_unknown_job_and_an_image_beyond_n_are_located(tmp_path: Path) -> None:
    """A name no recipe declares, and image 3 of a job that asks for 2."""
    write(tmp_path, "fox", T2I.format(name="fox", n=2))
    write(
        tmp_path,
        "edit",
        """\
        model: wan2.7-image
        prompt: Merge them.
        inputs:
          - from: fox
            image: 3
          - from: wolf
        n: 1
        """,
    )
    result = check(tmp_path)
    assert problems(result) == [
        ("edit.yaml", 4, 11, "reference-image"),
        ("edit.yaml", 6, 11, "unknown-job"),
    ]


def test_the_upstreams_declared_size_bounds_the_downstream(tmp_path: Path) -> None:
    """A box beyond the 1024x1024 the upstream asks for, and a 2400x300 image too short for
    wanx2.1, are errors before anything runs."""
    write(tmp_path, "fox", T2I.format(name="fox", n=1))
    write(
        tmp_path,
        "boxed",
        """\
        model: wan2.7-image
        prompt: Put a hat on it.
        inputs:
          - from: fox
            bboxes: [[0, 0, 1100, 10]]
        n: 1
        """,
    )
    write(tmp_path, "banner", T2I.format(name="banner", n=1).replace("1K", '"2400*300"'))
    write(
        tmp_path,
        "upscale",
        """\
        model: wanx2.1-imageedit
        function: super_resolution
        prompt: Sharper.
        upscale_factor: 2
        inputs:
          - from: banner
        n: 1
        """,
    )
    result = check(tmp_path)
    assert problems(result) == [
        ("boxed.yaml", 5, 14, "bbox-outside-image"),
        ("upscale.yaml", 6, 5, "image-side"),
    ]


def test_a_matrix_of_references_fans_out_one_job_per_reference(tmp_path: Path) -> None:
    """`matrix.from` lists three images of a set; the input `from: matrix` takes each in turn."""
    write(tmp_path, "set", T2I.format(name="set", n=3) + "enable_sequential: true\n")
    write(
        tmp_path,
        "recolor",
        """\
        model: wan2.7-image
        prompt: Recolour it.
        inputs:
          - from: matrix
        n: 1
        matrix:
          from:
            - set
            - {from: set, image: 2}
            - {from: set, image: 4}
        """,
    )
    result = check(tmp_path)
    names = sorted(c.job.name for c in result.jobs if "recolor" in c.job.name)
    assert names == ["recolor[from=set#2]", "recolor[from=set#4]", "recolor[from=set]"]
    # image 4 is beyond the set's n: located at its matrix entry
    assert problems(result) == [("recolor.yaml", 10, 7, "reference-image")]
    links = {c.job.name: [(lk.upstream, lk.image) for lk in c.links] for c in result.jobs}
    assert links["recolor[from=set#2]"] == [("recipes/set.yaml::set", 2)]


def test_matrix_references_need_an_input_to_take_them(tmp_path: Path) -> None:
    """`matrix.from` without a `from: matrix` input, and the other way round, are errors."""
    write(tmp_path, "set", T2I.format(name="set", n=3))
    write(tmp_path, "lonely", T2I.format(name="lonely", n=1) + "matrix:\n  from: [set]\n")
    write(tmp_path, "taker", EDIT.format(name="taker", ref="matrix"))
    assert problems(check(tmp_path)) == [
        ("lonely.yaml", 7, 9, "matrix-from-unused"),
        ("taker.yaml", 5, 11, "matrix-from-missing"),
    ]


def test_one_file_resolves_among_every_recipe_of_the_project(tmp_path: Path) -> None:
    """Validating only the downstream file still finds its upstream in recipes/, and the upstream
    is checked as context, not reported as a file of its own."""
    write(tmp_path, "fox", T2I.format(name="fox", n=1))
    edit = write(tmp_path, "winter", EDIT.format(name="winter", ref="fox"))
    result = check(tmp_path, edit)
    assert result.report.ok() and result.recipes == 1
    assert [c.key for c in result.context] == ["recipes/fox.yaml::fox"]


def test_an_invalid_upstream_invalidates_its_dependants(tmp_path: Path) -> None:
    """The upstream's own error, and at the reference: the upstream is invalid."""
    write(tmp_path, "fox", T2I.format(name="fox", n=1).replace("1K", "9K"))
    write(tmp_path, "winter", EDIT.format(name="winter", ref="fox"))
    assert problems(check(tmp_path)) == [
        ("fox.yaml", 4, 7, "size-tier"),
        ("winter.yaml", 5, 11, "reference-invalid"),
    ]


def test_a_matrix_combination_is_named_as_wanform_prints_it(tmp_path: Path) -> None:
    """`fox[seed=2]` names one combination of a matrix recipe, also as RECIPE_PATH::JOB; the bare
    recipe name names no job."""
    write(tmp_path, "fox", T2I.format(name="fox", n=1) + "matrix:\n  seed: [1, 2]\n")
    write(tmp_path, "winter", EDIT.format(name="winter", ref='"fox[seed=2]"'))
    write(tmp_path, "spring", EDIT.format(name="spring", ref='"recipes/fox.yaml::fox[seed=1]"'))
    write(tmp_path, "autumn", EDIT.format(name="autumn", ref="fox"))
    result = check(tmp_path)
    assert problems(result) == [("autumn.yaml", 5, 11, "unknown-job")]
    links = {c.job.name: [(lk.upstream, lk.image) for lk in c.links] for c in result.jobs}
    assert links["winter"] == [("recipes/fox.yaml::fox[seed=2]", 1)]
    assert links["spring"] == [("recipes/fox.yaml::fox[seed=1]", 1)]


def test_the_upstreams_declared_aspect_ratio_bounds_the_downstream(tmp_path: Path) -> None:
    """A 3200x400 (8:1) upstream image is beyond the 1:4 to 4:1 wan2.5-i2i-preview takes."""
    write(tmp_path, "banner", T2I.format(name="banner", n=1).replace("1K", '"3200*400"'))
    write(
        tmp_path,
        "edit",
        """\
        model: wan2.5-i2i-preview
        prompt: Make it night.
        inputs:
          - from: banner
        size: "1280*1280"
        n: 1
        """,
    )
    assert problems(check(tmp_path)) == [("edit.yaml", 4, 5, "image-aspect")]
