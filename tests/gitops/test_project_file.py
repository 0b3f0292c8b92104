"""`wanform.yaml`: found by walking up, located errors, defaults, precedence, and no way for a
repository to send the key elsewhere."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wanform.runner.cli import main
from wanform.runner.recipes.load import NOT_A_FILE, discover
from wanform.runner.recipes.projectfile import find_root, read
from wanform.spec.schema import SchemaCheck
from wanform.spec.schemagen import project_schema

FOX = """\
# yaml-language-server: $schema=../spec/schemas/recipe.schema.json
model: wan2.7-image
prompt: A red fox in the snow.
n: 1
"""
UPSCALE = """\
model: wanx2.1-imageedit
function: super_resolution
prompt: Sharper.
upscale_factor: 2
inputs:
  - path: ../images/w512.png
n: 1
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# the embedded emulator's clock for the runs that make images: its tasks end in moments
FAST = ("--emulator-speed", "200")


def wanform(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    print(f"$ wanform {' '.join(args)}\n{result.stdout}--- stderr:\n{result.stderr}")
    return result


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path / "recipes" / "fox.yaml", FOX)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_errors_in_the_project_file_are_located(project: Path) -> None:
    """A wrong type and an unknown key: file:line:col for each, exit 1, whatever the command."""
    write(project / "wanform.yaml", "out: out\nmax_images: many\nbase_url: https://evil.example\n")
    for command in ("validate", "plan", "run", "render"):
        result = wanform(command, *(["recipes/fox.yaml"] if command == "render" else []))
        assert result.exit_code == 1
        lines = result.stdout.splitlines()[:2]
        assert [line.split(": ")[0] for line in lines] == ["wanform.yaml:2:13", "wanform.yaml:3:1"]
        assert "never a URL" in lines[1]


@pytest.mark.parametrize(
    "text",
    [
        "target: https://evil.example/api/v1\n",
        "base_url: https://evil.example/api/v1\n",
        "dashscope_http_base_url: https://evil.example\n",
        "defaults:\n  base_url: https://evil.example\n",
        "out: https://evil.example/x\n",
        "out: ../outside\n",
        "out: /tmp/elsewhere\n",
        "recipes: [../../*.yaml]\n",
    ],
)
def test_the_project_file_cannot_redirect_the_key_or_leave_the_project(
    project: Path, text: str
) -> None:
    """No key takes a URL, and paths stay inside the project: each is a located error."""
    write(project / "wanform.yaml", text)
    loaded = read(project)
    assert loaded.problems and all(p.severity == "error" for _, p in loaded.problems)
    assert loaded.target is None and loaded.out is None


def test_the_schema_lists_every_key_and_none_names_a_url() -> None:
    """The project schema accepts no key it does not list, and lists none for a URL."""
    schema = project_schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["defaults"]["additionalProperties"] is False
    names = [*schema["properties"], *schema["properties"]["defaults"]["properties"]]
    assert not [n for n in names if "url" in n.lower() or "host" in n.lower()]
    check = SchemaCheck("project")
    assert check.problems({"target": "emulator", "region": "ap-southeast-1"}) == []
    assert check.problems({"target": "http://127.0.0.1:8000/api/v1"})


def test_the_project_is_found_walking_up_and_root_overrides(project: Path, monkeypatch) -> None:
    """From a subfolder the project file's folder is the root; --root names another."""
    write(project / "wanform.yaml", "recipes: [recipes/**/*.yaml]\n")
    write(project / "recipes" / "deep" / "more" / "b.yaml", FOX)
    monkeypatch.chdir(project / "recipes" / "deep")
    assert find_root(Path(".")) == project.resolve()
    result = wanform("validate")
    assert result.exit_code == 0 and "ok: 2 recipes" in result.stdout
    other = write(project / "elsewhere" / "recipes" / "x.yaml", FOX).parents[1]
    result = wanform("validate", "--root", str(other), str(other / "recipes"))
    assert result.exit_code == 0 and "ok: 1 recipes" in result.stdout


def test_defaults_apply_where_the_model_takes_them_and_recipes_win(project: Path) -> None:
    """`watermark` and `seed` reach every request; a recipe's own seed wins; `size` is not
    applied to wanx2.1, and `validate -v` says so."""
    write(project / "wanform.yaml", "defaults:\n  watermark: true\n  seed: 5\n  size: 1K\n")
    write(project / "recipes" / "seeded.yaml", FOX + "seed: 9\n")
    write(project / "images" / "w512.png", "")
    from PIL import Image

    Image.new("L", (512, 512), 100).save(project / "images" / "w512.png")
    write(project / "recipes" / "upscale.yaml", UPSCALE)
    result = wanform("validate", "-v")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "note: recipes/upscale.yaml: default size from wanform.yaml is not applied: "
        "wanx2.1-imageedit does not take it"
    ]
    bodies = {}
    for name in ("fox", "seeded", "upscale"):
        rendered = wanform("render", f"recipes/{name}.yaml").stdout
        bodies[name] = json.loads(rendered.split("<<'JSON'\n")[1].split("\nJSON")[0])["parameters"]
    assert bodies["fox"] == {"n": 1, "seed": 5, "size": "1K", "watermark": True}
    assert bodies["seeded"]["seed"] == 9
    assert bodies["upscale"] == {"n": 1, "seed": 5, "upscale_factor": 2, "watermark": True}


def test_a_bad_default_is_located_in_the_project_file(project: Path) -> None:
    """A default a request rejects points at its line in wanform.yaml, not at the recipe."""
    write(project / "wanform.yaml", "defaults:\n  size: 9K\n")
    result = wanform("validate")
    assert result.exit_code == 1
    assert result.stdout.startswith("wanform.yaml:2:9: error[size-tier]:")


def test_plan_says_a_job_changed_because_a_default_did(project: Path) -> None:
    """After the lock records a job, changing a default shows it as the reason."""
    write(project / "wanform.yaml", "defaults:\n  watermark: false\n")
    assert wanform("run", *FAST).exit_code == 0
    write(project / "wanform.yaml", "defaults:\n  watermark: true\n")
    result = wanform("plan")
    assert "recipes/fox.yaml::fox (wan2.7-image, 1 image): watermark (default in wanform.yaml)" in (
        result.stdout
    )


def test_command_line_wins_over_the_project_file(project: Path) -> None:
    """`out` and `max_images` from the file apply unless the command line gives its own."""
    write(project / "wanform.yaml", "out: build/images\nmax_images: 0\ntarget: emulator\n")
    refused = wanform("run")
    assert refused.exit_code == 1 and "over --max-images 0" in refused.stderr
    result = wanform("run", *FAST, "--max-images", "1")
    assert result.exit_code == 0, result.stderr
    assert (project / "build" / "images" / "fox" / "fox-1.png").is_file()
    assert (
        wanform("run", *FAST, "--out", "elsewhere", "--force", "--max-images", "1").exit_code == 0
    )
    assert (project / "elsewhere" / "fox" / "fox-1.png").is_file()


def test_a_project_target_dashscope_needs_the_key_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`target: dashscope` without DASHSCOPE_API_KEY stops before anything is sent."""
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    write(project / "wanform.yaml", "target: dashscope\n")
    result = wanform("run")
    assert result.exit_code == 1 and "needs DASHSCOPE_API_KEY" in result.stderr


def test_validate_of_a_folder_skips_hidden_folders_and_virtual_environments(
    project: Path,
) -> None:
    """`.pre-commit-hooks.yaml`, a `.github/` workflow, a venv's YAML and wanform.yaml are not
    recipes."""
    write(project / ".pre-commit-hooks.yaml", "- id: x\n")
    write(project / ".github" / "workflows" / "ci.yaml", "on: push\n")
    write(project / "venv" / "pyvenv.cfg", "home = /usr\n")
    write(project / "venv" / "lib" / "site.yaml", "a: b\n")
    write(project / ".venv" / "lib" / "python3.12" / "site-packages" / "x" / "data.yaml", "- 1\n")
    write(project / "wanform.yaml", "out: out\n")
    result = wanform("validate", ".")
    assert result.exit_code == 0 and "ok: 1 recipes" in result.stdout
    # a folder outside the `recipes:` globs, as in a checkout's tools/
    write(project / "tools" / ".pre-commit-hooks.yaml", "- id: x\n")
    write(project / "tools" / "env" / "pyvenv.cfg", "home = /usr\n")
    write(project / "tools" / "env" / "conf.yaml", "a: b\n")
    write(project / "tools" / "fox.yaml", FOX)
    result = wanform("validate", "tools")
    assert result.exit_code == 0 and "ok: 1 recipes" in result.stdout


def test_a_folders_recipes_come_in_path_order_and_a_broken_link_is_not_a_file(
    tmp_path: Path,
) -> None:
    """A folder's files sort by their path's parts (`a/b.yaml` before `a-c.yaml`, as Path
    orders them, not as their text would); a broken or looping link is named as not a file."""
    for name in ("a-c.yaml", "a/b.yaml", "a.yaml"):
        write(tmp_path / name, FOX)
    (tmp_path / "z.yaml").symlink_to(tmp_path / "gone.yaml")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    files, missing = discover([str(tmp_path)])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a/b.yaml", "a-c.yaml", "a.yaml"]
    assert [(Path(name).name, problem.code) for name, problem in missing] == [
        ("loop.yaml", NOT_A_FILE.code),
        ("z.yaml", NOT_A_FILE.code),
    ]


def test_render_takes_the_projects_target_and_region_after_the_command_line_and_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`target: dashscope` with `region:` gives the region's host; DASHSCOPE_API_REGION wins over
    the file, and --target over both."""
    for name in ("DASHSCOPE_API_REGION", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "ws1")
    write(project / "wanform.yaml", "target: dashscope\nregion: ap-southeast-1\n")

    def url() -> str:
        return next(w for w in wanform("render", *args).stdout.split() if w.startswith("http"))

    args: tuple[str, ...] = ("recipes/fox.yaml",)
    assert url().startswith("https://ws1.ap-southeast-1.maas.aliyuncs.com/api/v1/")
    monkeypatch.setenv("DASHSCOPE_API_REGION", "cn-beijing")
    assert url().startswith("https://dashscope.aliyuncs.com/api/v1/")
    args = ("--target", "emulator", "recipes/fox.yaml")
    assert url().startswith("http://127.0.0.1:8000/api/v1/")


def test_run_takes_the_projects_region(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` with the file's dashscope target and workspace region asks for the workspace id
    that region needs, before anything is sent."""
    for name in ("DASHSCOPE_API_REGION", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_WORKSPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    write(project / "wanform.yaml", "target: dashscope\nregion: ap-southeast-1\n")
    result = wanform("run")
    assert result.exit_code == 1
    assert "set DASHSCOPE_WORKSPACE_ID (region ap-southeast-1" in result.stderr


def test_a_run_from_a_subfolder_keeps_lock_and_images_at_the_project_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock, .wanform/ and out/ go to the folder holding wanform.yaml, not the current one;
    --root names another project whatever the current folder is."""
    write(project / "wanform.yaml", "max_images: 5\n")
    monkeypatch.chdir(write(project / "recipes" / "deep" / "x.txt", "").parent)
    assert wanform("run", *FAST).exit_code == 0
    assert (project / "wanform.lock").is_file() and (project / ".wanform").is_dir()
    assert (project / "out" / "fox" / "fox-1.png").is_file()
    assert not (project / "recipes" / "deep" / "wanform.lock").exists()
    other = write(project.parent / "other" / "recipes" / "cat.yaml", FOX).parents[1]
    result = wanform("validate", "--root", str(other), "-v")
    assert result.exit_code == 0 and "ok: 1 recipes" in result.stdout
    assert wanform("run", *FAST, "--root", str(other)).exit_code == 0
    assert (other / "wanform.lock").is_file() and (other / "out" / "cat" / "cat-1.png").is_file()


def test_the_recipes_globs_name_the_recipes(project: Path) -> None:
    """Without `recipes:` every YAML under recipes/ (nested too) is one; with it, only the files
    its globs name."""
    write(project / "recipes" / "a" / "b" / "nested.yaml", FOX)
    write(project / "steps" / "one.yaml", FOX)
    write(project / "wanform.yaml", "out: out\n")
    assert "ok: 2 recipes" in wanform("validate").stdout
    write(project / "wanform.yaml", "recipes: [steps/*.yaml, recipes/a/**/*.yaml]\n")
    result = wanform("plan")
    assert "steps/one.yaml::one" in result.stdout and "recipes/a/b/nested.yaml" in result.stdout
    assert "recipes/fox.yaml" not in result.stdout


def test_the_projects_max_cost_holds_unless_the_command_line_says_otherwise(
    project: Path,
) -> None:
    """`max_cost: 0` refuses a run; --max-cost on the command line wins."""
    write(project / "wanform.yaml", "max_cost: 0\n")
    refused = wanform("run")
    assert refused.exit_code == 1 and "over --max-cost 0" in refused.stderr
    assert wanform("run", *FAST, "--max-cost", "5").exit_code == 0


def test_a_recipes_matrix_wins_over_a_default(project: Path) -> None:
    """`seed` from the matrix, not from `defaults`, in each job's request."""
    write(project / "wanform.yaml", "defaults:\n  seed: 5\n")
    write(project / "recipes" / "fox.yaml", FOX + "matrix:\n  seed: [1, 2]\n")
    rendered = wanform("render", "recipes/fox.yaml").stdout
    bodies = [json.loads(part.split("\nJSON")[0]) for part in rendered.split("<<'JSON'\n")[1:]]
    assert [b["parameters"]["seed"] for b in bodies] == [1, 2]


def test_a_changed_default_reaches_down_a_chain(project: Path) -> None:
    """A new default seed changes the upstream (the default is the reason) and the step that takes
    its image (the upstream is); the run then leaves the chain unchanged."""
    write(project / "wanform.yaml", "defaults:\n  seed: 5\n")
    winter = "model: wan2.7-image\nprompt: Make it winter.\ninputs:\n  - from: fox\nn: 1\nseed: 3\n"
    write(project / "recipes" / "winter.yaml", winter)
    assert wanform("run", *FAST).exit_code == 0
    write(project / "wanform.yaml", "defaults:\n  seed: 6\n")
    changed = [line for line in wanform("plan").stdout.splitlines() if line.startswith("~")]
    assert [line.split(": ", 1)[1] for line in changed] == [
        "seed (default in wanform.yaml)",
        "upstream: recipes/fox.yaml::fox",
    ]
    assert wanform("run", *FAST).exit_code == 0
    assert wanform("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("out: out\nrecipes: [a\n", "wanform.yaml:3:1"),
        ("defaults:\n  watermark: true\n  colour: red\n", "wanform.yaml:3:3"),
        ("- out\n", "wanform.yaml:1:1"),
    ],
    ids=["yaml-syntax", "unknown-default", "not-a-mapping"],
)
def test_every_kind_of_project_file_error_is_located(project: Path, text: str, where: str) -> None:
    """Broken YAML, a default no recipe takes, a list where a mapping belongs: file:line:col."""
    write(project / "wanform.yaml", text)
    result = wanform("validate")
    assert result.exit_code == 1 and result.stdout.startswith(f"{where}: error["), result.stdout


def test_a_key_in_the_environment_does_not_override_the_projects_target(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment names no target: with `target: emulator` a DASHSCOPE_API_KEY only supplies
    the key, and the run stays on the embedded emulator."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-real-looking")
    write(project / "wanform.yaml", "target: emulator\n")
    result = wanform("run")
    assert result.exit_code == 0 and "emulator" in result.stderr.splitlines()[0]
