"""`wanform validate` and `wanform schema` through click's test runner: exit codes, report formats,
paths and roots."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wanform.runner.cli import main
from wanform.spec.schemagen import SCHEMA_DIR

PROBLEM_LINE = re.compile(
    r"^(?P<file>[^:]+)(:(?P<line>\d+):(?P<column>\d+))?: (?P<severity>error|warning)"
    r"\[(?P<code>[a-z0-9-]+)\]: (?P<message>.+)$"
)
SUMMARY_LINE = re.compile(
    r"^(?P<verdict>ok|failed): (?P<recipes>\d+) recipes \((?P<jobs>\d+) jobs\), "
    r"(?P<invalid>\d+) invalid, (?P<errors>\d+) errors, (?P<warnings>\d+) warnings"
    r"(?P<strict> \(strict\))?$"
)
T2I = "model: wan2.7-image\nprompt: A red car on a beach.\nn: 1\n"

Invoke = Callable[..., Result]


@pytest.fixture
def wanform() -> Invoke:
    """Run `wanform ARGS...` in-process; exceptions propagate, and stdout/stderr are printed for
    failing tests."""

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        print(
            f"$ wanform {' '.join(args)}\n--- exit {result.exit_code}; "
            f"stdout:\n{result.stdout}--- stderr:\n{result.stderr}"
        )
        return result

    return invoke


@pytest.fixture
def in_cases(case_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from the case tree, so it is the default --root and reported paths are relative to
    it."""
    monkeypatch.chdir(case_root)
    return case_root


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_recipe_exits_0(wanform: Invoke, in_cases: Path) -> None:
    """A valid recipe exits 0 with only the summary line."""
    result = wanform("validate", "valid/wan27-pro-t2i-4k.yaml")
    assert (result.exit_code, result.stdout) == (
        0,
        "ok: 1 recipes (1 jobs), 0 invalid, 0 errors, 0 warnings\n",
    )


def test_matrix_recipe_counts_its_jobs(wanform: Invoke, in_cases: Path) -> None:
    """A matrix recipe is one recipe and as many jobs as its combinations."""
    result = wanform(
        "validate", "valid/wanx21-strength-edges.yaml", "valid/wan27-image-t2i-size-edges.yaml"
    )
    assert (result.exit_code, result.stdout) == (
        0,
        "ok: 2 recipes (4 jobs), 0 invalid, 0 errors, 0 warnings\n",
    )


def test_invalid_recipe_exits_1_with_one_line_per_problem(wanform: Invoke, in_cases: Path) -> None:
    """An invalid recipe exits 1 and prints `path:line:col: error[CODE]: message`, then the
    summary."""
    result = wanform("validate", "invalid/bbox-outside-right.yaml")
    assert result.exit_code == 1
    assert result.stdout == (
        "invalid/bbox-outside-right.yaml:7:14: error[bbox-outside-image]: "
        "box [900, 0, 1025, 100] reaches outside image 1, which is 1024x768\n"
        "failed: 1 recipes (1 jobs), 1 invalid, 1 errors, 0 warnings\n"
    )


def test_every_problem_line_has_the_documented_format(wanform: Invoke, in_cases: Path) -> None:
    """Each problem line of a mixed run parses as file[:line:col]: severity[code]: message, the last
    line as a summary."""
    result = wanform(
        "validate",
        "invalid/size-pixels-and-aspect.yaml",
        "invalid/yaml-duplicate-key.yaml",
        "invalid/yaml-empty.yaml",
        "invalid/errors-and-n-warning.yaml",
        "invalid/image-alpha.yaml",
    )
    *problems, summary = result.stdout.splitlines()
    parsed = [PROBLEM_LINE.match(line) for line in problems]
    assert all(parsed), problems
    assert [(m["file"], m["line"], m["severity"], m["code"]) for m in parsed] == [
        ("invalid/size-pixels-and-aspect.yaml", "6", "error", "size-aspect"),
        ("invalid/size-pixels-and-aspect.yaml", "6", "error", "size-pixels"),
        ("invalid/yaml-duplicate-key.yaml", "7", "error", "duplicate-key"),
        ("invalid/yaml-empty.yaml", None, "error", "yaml-empty"),
        ("invalid/errors-and-n-warning.yaml", "4", "warning", "n-omitted"),
        ("invalid/errors-and-n-warning.yaml", "6", "error", "size-tier"),
        ("invalid/image-alpha.yaml", "6", "error", "image-alpha"),
    ]
    assert SUMMARY_LINE.match(summary).groupdict() == {
        "verdict": "failed",
        "recipes": "5",
        "jobs": "3",
        "invalid": "5",
        "errors": "6",
        "warnings": "1",
        "strict": None,
    }
    assert result.exit_code == 1


def test_not_utf8_names_line_and_column(wanform: Invoke, in_cases: Path) -> None:
    """A Latin-1 byte is reported at its line and column, without a traceback."""
    result = wanform("validate", "invalid/not-utf8-latin1.yaml")
    assert (
        result.stdout.splitlines()[0]
        == "invalid/not-utf8-latin1.yaml:4:12: error[not-utf8]: the file is not valid UTF-8"
    )
    assert result.exit_code == 1


def test_duplicate_key_message_names_the_first_line(wanform: Invoke, in_cases: Path) -> None:
    """A duplicate key is reported on its second occurrence, naming the line of the first."""
    result = wanform("validate", "invalid/yaml-duplicate-key.yaml")
    assert (
        result.stdout.splitlines()[0]
        == "invalid/yaml-duplicate-key.yaml:7:1: error[duplicate-key]: "
        "duplicate key 'n' (first defined on line 5)"
    )


def test_json_document_shape(wanform: Invoke, in_cases: Path) -> None:
    """`-o json` prints version, summary, files and problems, each with fixed keys."""
    result = wanform(
        "validate", "-o", "json", "invalid/bbox-outside-right.yaml", "valid/warn-n-omitted.yaml"
    )
    document = json.loads(result.stdout)
    assert document == {
        "version": 1,
        "summary": {"recipes": 2, "jobs": 2, "invalid": 1, "errors": 1, "warnings": 1, "ok": False},
        "files": [
            {"file": "invalid/bbox-outside-right.yaml", "valid": False},
            {"file": "valid/warn-n-omitted.yaml", "valid": True},
        ],
        "problems": [
            {
                "file": "invalid/bbox-outside-right.yaml",
                "line": 7,
                "column": 14,
                "severity": "error",
                "code": "bbox-outside-image",
                "message": "box [900, 0, 1025, 100] reaches outside image 1, which is 1024x768",
            },
            {
                "file": "valid/warn-n-omitted.yaml",
                "line": 3,
                "column": 8,
                "severity": "warning",
                "code": "n-omitted",
                "message": "n is not set; wanform sends n: 1 "
                "(the service's own default is up to 4 images, each billed)",
            },
        ],
    }
    assert result.exit_code == 1


def _text_from_json(document: dict) -> list[str]:
    """The text report a JSON document stands for."""
    lines = []
    for p in document["problems"]:
        where = f"{p['file']}:{p['line']}:{p['column']}" if p["line"] else p["file"]
        lines.append(f"{where}: {p['severity']}[{p['code']}]: {p['message']}")
    s = document["summary"]
    lines.append(
        f"{'ok' if s['ok'] else 'failed'}: {s['recipes']} recipes ({s['jobs']} jobs), "
        f"{s['invalid']} invalid, "
        f"{s['errors']} errors, {s['warnings']} warnings"
    )
    return lines


def test_json_carries_the_same_facts_as_text(wanform: Invoke, in_cases: Path) -> None:
    """The JSON and text reports of one run agree on every problem and on the summary."""
    args = (
        "invalid/matrix-bad-n.yaml",
        "invalid/wanx21-mask-size.yaml",
        "invalid/yaml-empty.yaml",
        "valid/warn-prompt-too-long.yaml",
        "valid/wan26-edit.yaml",
        "no-such-recipe.yaml",
    )
    text = wanform("validate", *args)
    as_json = wanform("validate", "-o", "json", *args)
    assert text.stdout.splitlines() == _text_from_json(json.loads(as_json.stdout))
    assert (text.exit_code, as_json.exit_code) == (1, 1)


def test_warnings_fail_only_with_strict(wanform: Invoke, in_cases: Path) -> None:
    """A recipe with only a warning exits 0, and 1 under --strict, which the summary says."""
    plain = wanform("validate", "valid/warn-prompt-too-long.yaml")
    strict = wanform("validate", "--strict", "valid/warn-prompt-too-long.yaml")
    warning = (
        "valid/warn-prompt-too-long.yaml:5:9: warning[prompt-too-long]: "
        "prompt has 801 characters; wanx2.1-imageedit reads the first 800 and drops the rest\n"
    )
    assert (plain.exit_code, plain.stdout) == (
        0,
        warning + "ok: 1 recipes (1 jobs), 0 invalid, 0 errors, 1 warnings\n",
    )
    assert (strict.exit_code, strict.stdout) == (
        1,
        warning + "failed: 1 recipes (1 jobs), 0 invalid, 0 errors, 1 warnings (strict)\n",
    )


def test_strict_json_summary_is_not_ok(wanform: Invoke, in_cases: Path) -> None:
    """Under --strict the JSON summary of a warning-only run says ok: false."""
    result = wanform("validate", "--strict", "-o", "json", "valid/warn-n-omitted.yaml")
    assert (result.exit_code, json.loads(result.stdout)["summary"]["ok"]) == (1, False)


def test_directory_recurses_into_yaml_and_yml(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory argument means every *.yaml and *.yml below it, at any depth, and nothing
    else."""
    for name in ("top.yaml", "sub/second.yml", "sub/deeper/third.yaml"):
        _write(tmp_path / "recipes" / name, T2I)
    _write(tmp_path / "recipes" / "sub" / "notes.txt", "not a recipe: {")
    _write(tmp_path / "recipes" / "sub" / "broken.json", "not a recipe: {")
    monkeypatch.chdir(tmp_path)
    result = wanform("validate", "-o", "json", "recipes")
    files = [f["file"] for f in json.loads(result.stdout)["files"]]
    assert sorted(files) == [
        "recipes/sub/deeper/third.yaml",
        "recipes/sub/second.yml",
        "recipes/top.yaml",
    ]
    assert result.exit_code == 0


def test_default_path_is_recipes(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a path, validate reads recipes/ under the current directory."""
    _write(tmp_path / "recipes" / "one.yaml", T2I)
    _write(tmp_path / "elsewhere.yaml", "not: [a recipe")
    monkeypatch.chdir(tmp_path)
    result = wanform("validate")
    assert (result.exit_code, result.stdout) == (
        0,
        "ok: 1 recipes (1 jobs), 0 invalid, 0 errors, 0 warnings\n",
    )


def test_missing_path_is_an_error(wanform: Invoke, in_cases: Path) -> None:
    """A path that does not exist is reported by name, without a line, and the run fails."""
    result = wanform("validate", "valid/wan26-edit.yaml", "no-such-dir/")
    assert result.stdout == (
        "no-such-dir/: error[not-found]: no such file or directory\n"
        "failed: 1 recipes (1 jobs), 1 invalid, 1 errors, 0 warnings\n"
    )
    assert result.exit_code == 1


def test_a_recipe_name_that_is_not_a_file_is_reported(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken symbolic link named like a recipe fails the run by name instead of being skipped in
    silence."""
    _write(tmp_path / "recipes" / "one.yaml", T2I)
    (tmp_path / "recipes" / "gone.yaml").symlink_to(tmp_path / "moved.yaml")
    monkeypatch.chdir(tmp_path)
    result = wanform("validate", "recipes")
    assert result.stdout.splitlines() == [
        "recipes/gone.yaml: error[unreadable]: not a regular file: "
        "a broken or looping symbolic link, a device, a socket or a pipe",
        "failed: 1 recipes (1 jobs), 1 invalid, 1 errors, 0 warnings",
    ]
    assert result.exit_code == 1


@pytest.mark.parametrize("stem", ["<b>x", "Fox", "a b", '"><img src=x>', "-x", "ünï", "x`y"])
def test_a_file_stem_that_is_no_name_is_a_located_error(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str
) -> None:
    """A recipe without `name:` whose file stem the pattern of `name:` refuses is an error at the
    recipe's first key, naming the file; with `name:` the same file is valid."""
    path = _write(tmp_path / "recipes" / f"{stem}.yaml", "# a comment\n" + T2I)
    monkeypatch.chdir(tmp_path)
    result = wanform("validate", "recipes")
    assert result.exit_code == 1
    [problem, summary] = result.stdout.splitlines()
    assert problem.startswith(f"recipes/{stem}.yaml:2:1: error[bad-format]: ")
    assert repr(stem) in problem and "add `name:`" in problem
    assert summary == "failed: 1 recipes (0 jobs), 1 invalid, 1 errors, 0 warnings"
    path.write_text("name: fox\n" + T2I, encoding="utf-8")
    assert wanform("validate", "recipes").exit_code == 0


def test_a_file_stem_with_a_line_break_is_no_name(wanform: Invoke, tmp_path: Path) -> None:
    """A stem ending in a line break is refused too: `$` in the pattern is the end of the name."""
    path = _write(tmp_path / "fox\n.yaml", T2I)
    result = wanform("validate", "-o", "json", "--root", str(tmp_path), str(path))
    problems = json.loads(result.stdout)["problems"]
    assert [(p["code"], p["line"], p["file"]) for p in problems] == [
        ("bad-format", 1, os.path.relpath(path))
    ]


def test_a_problem_of_some_matrix_jobs_names_them(wanform: Invoke, tmp_path: Path) -> None:
    """A problem only some combinations have names them, unless it already points at their matrix
    value."""
    recipe = _write(
        tmp_path / "m.yaml",
        "model: wan2.6-image\nprompt: x\nn: 1\nmatrix:\n"
        "  enable_interleave: [true, false]\n  size: ['1280*1280', '9000*9000']\n",
    )
    result = wanform("validate", str(recipe))
    errors = [line.split(": ", 1)[1] for line in result.stdout.splitlines()[:-1]]
    assert errors[0] == (
        "error[image-count]: wan2.6-image takes 1 to 4 input images in edit mode, got 0 "
        "(in m[enable_interleave=False,size=1280*1280], m[enable_interleave=False,size=9000*9000])"
    )
    assert all(
        line.split(":")[1] == "6" and "(in " not in line
        for line in result.stdout.splitlines()[1:-1]
    )
    assert result.exit_code == 1


def test_empty_directory_fails(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory without recipes is not a success: exit 1, a failed summary, and a note on
    stderr."""
    (tmp_path / "recipes").mkdir()
    monkeypatch.chdir(tmp_path)
    result = wanform("validate", "recipes")
    assert (result.exit_code, result.stdout) == (
        1,
        "failed: 0 recipes (0 jobs), 0 invalid, 0 errors, 0 warnings\n",
    )
    assert result.stderr == "error: no recipe files (*.yaml, *.yml) under recipes\n"


@pytest.mark.parametrize("command", ["run", "render", "plan"])
def test_commands_that_validate_first_stop_as_validate_does(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """`run`, `render` and `plan` share validate's step: the same report, note and exit 1."""
    (tmp_path / "recipes").mkdir()
    monkeypatch.chdir(tmp_path)
    result = wanform(command, "recipes")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "failed: 0 recipes (0 jobs), 0 invalid, 0 errors, 0 warnings\n",
        "error: no recipe files (*.yaml, *.yml) under recipes\n",
    )


def test_zero_byte_file(wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A zero-byte recipe is one yaml-empty error on the file, not a traceback."""
    (tmp_path / "empty.yaml").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    result = wanform("validate", "empty.yaml")
    assert (
        result.stdout.splitlines()[0] == "empty.yaml: error[yaml-empty]: the file is empty; "
        "a recipe is a mapping with at least model and prompt"
    )
    assert result.exit_code == 1


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose recipe in sub/ reads an image one directory up, at the project's top."""
    from PIL import Image

    Image.new("1", (1024, 768)).save(tmp_path / "car.png")
    _write(
        tmp_path / "sub" / "edit.yaml",
        "model: wan2.7-image\nprompt: Make the car red.\ninputs:\n  - path: ../car.png\nn: 1\n",
    )
    return tmp_path


def test_root_option_allows_files_inside_it(
    wanform: Invoke, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --root at the project's top, an image one level above the recipe is inside the root."""
    monkeypatch.chdir(project / "sub")
    result = wanform("validate", "--root", str(project), "edit.yaml")
    assert (result.exit_code, result.stdout) == (
        0,
        "ok: 1 recipes (1 jobs), 0 invalid, 0 errors, 0 warnings\n",
    )


def test_root_defaults_to_the_current_directory(
    wanform: Invoke, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from sub/ without --root, the same image is outside the root and refused."""
    monkeypatch.chdir(project / "sub")
    result = wanform("validate", "-o", "json", "edit.yaml")
    [problem] = json.loads(result.stdout)["problems"]
    assert (problem["code"], problem["line"], problem["column"]) == ("path-outside-root", 4, 11)
    assert problem["message"] == (
        f"../car.png resolves to {(project / 'car.png').resolve()}, outside the project root "
        f"{(project / 'sub').resolve()}; recipes may only read files inside it"
    )
    assert result.exit_code == 1


def test_root_option_confines_to_a_subdirectory(
    wanform: Invoke, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the project's top with --root sub, the image above sub/ is refused."""
    monkeypatch.chdir(project)
    result = wanform("validate", "--root", "sub", "sub/edit.yaml")
    assert result.stdout.splitlines()[0].startswith(
        "sub/edit.yaml:4:11: error[path-outside-root]: ../car.png resolves to "
    )
    assert result.exit_code == 1


def test_schema_prints_the_recipe_schema(wanform: Invoke) -> None:
    """`wanform schema` prints recipe.schema.json byte for byte, and it is JSON."""
    result = wanform("schema")
    committed = (SCHEMA_DIR / "recipe.schema.json").read_text(encoding="utf-8")
    assert (result.exit_code, result.stdout) == (0, committed)
    assert json.loads(result.stdout)["title"] == "wanform recipe (format v1)"


def test_schema_for_a_model_prints_its_request_schema(wanform: Invoke) -> None:
    """`wanform schema --model wan2.6-image` prints that model's request schema file byte for
    byte."""
    result = wanform("schema", "--model", "wan2.6-image")
    committed = (SCHEMA_DIR / "request-wan2.6-image.schema.json").read_text(encoding="utf-8")
    assert (result.exit_code, result.stdout) == (0, committed)
    assert json.loads(result.stdout)["properties"]["model"] == {"enum": ["wan2.6-image"]}


def test_schema_for_an_unknown_model_is_a_usage_error(wanform: Invoke) -> None:
    """An unknown --model is refused by the option parser, naming the choices."""
    result = wanform("schema", "--model", "wan9-image")
    assert result.exit_code == 2
    assert (
        "'wan9-image' is not one of 'wan2.7-image-pro', 'wan2.7-image', 'wan2.6-image'"
        in result.stderr
    )


def test_variants_follow_the_older_wan26_page(
    wanform: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WANFORM_VARIANTS=wan2.6.limits=2025 refuses the 2K tier that the newer page allows."""
    monkeypatch.chdir(tmp_path)
    from PIL import Image

    Image.new("RGB", (600, 600)).save(tmp_path / "in.png")
    _write(
        tmp_path / "r.yaml",
        "model: wan2.6-image\nprompt: p\nn: 1\nsize: 2K\ninputs:\n  - path: in.png\n",
    )
    assert [wanform(command, "r.yaml").exit_code for command in ("validate", "plan", "render")] == [
        0,
        0,
        0,
    ]
    monkeypatch.setenv("WANFORM_VARIANTS", "wan2.6.limits=2025")
    for command in (
        "validate",
        "plan",
        "render",
        "run",
    ):  # every command that validates follows the choice
        result = wanform(command, "r.yaml")
        assert result.exit_code == 1, command
        assert result.stdout.splitlines()[0].startswith("r.yaml:4:7: error[size-tier]: "), command


def test_unknown_variant_is_a_usage_error(wanform: Invoke, in_cases: Path) -> None:
    """A misspelt variant exits 2 and lists the known ones."""
    result = wanform("validate", "--variants", "wan2.7.n_default=7", "valid/wan26-edit.yaml")
    assert result.exit_code == 2
    assert "wan2.7.n_default=4|1" in result.stderr


ACTIONABLE = [
    (
        "model: wan2.7-imge\nprompt: x\nn: 1\n",
        "1:8: error[not-allowed]: model is 'wan2.7-imge'; did you mean 'wan2.7-image'? allowed: "
        "wan2.7-image-pro, wan2.7-image, wan2.6-image, wan2.5-i2i-preview, wanx2.1-imageedit",
    ),
    (
        "model: wan2.7-image\nprompt: x\nn: 1\nwatermrk: false\n",
        "4:1: error[unknown-key]: unknown key 'watermrk' in (root); did you mean 'watermark'?",
    ),
    (
        "model: wanx2.1-imageedit\nfunction: colorisation\nprompt: x\nn: 1\n",
        "2:11: error[not-allowed]: function is 'colorisation'; did you mean 'colorization'? "
        "allowed: stylization_all, stylization_local, description_edit, "
        "description_edit_with_mask, remove_watermark, expand, super_resolution, colorization, "
        "doodle, control_cartoon_feature",
    ),
    (
        "model: wanx2.1-imageedit\nfunction: description_edit_with_mask\nprompt: x\nn: 1\n"
        "mask: images/mask.png\n",
        "5:7: error[wrong-type]: mask must be an object, not a string; write it as "
        "`mask: {path: images/mask.png}`",
    ),
    (
        "model: wan2.6-image\nprompt: x\nenable_interleave: true\nn: 2\n",
        "4:4: error[n-range]: num_images_per_prompt must be 1. (that is the recipe's `n`, set it "
        "to 1: in interleave mode one answer mixes text and images, and max_images caps how many "
        "images it holds)",
    ),
]


@pytest.mark.parametrize(
    ("recipe", "line"), ACTIONABLE, ids=["model", "key", "function", "mask", "n"]
)
def test_errors_say_what_to_write(wanform: Invoke, tmp_path: Path, monkeypatch, recipe, line):
    """A misspelt model, key or function gets a "did you mean", a mask given as a string the form
    it takes, and the service's `num_images_per_prompt` the recipe key it means and why."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "r.yaml", recipe)
    result = wanform("validate", "r.yaml")
    assert result.exit_code == 1
    assert f"r.yaml:{line}" in result.stdout.splitlines()
