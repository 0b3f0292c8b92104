"""Helpers for the report and dashboard tests: a project run on an emulator process, a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "no Chromium installed (apt-get install chromium; .ci/run installs it)"
SCREENSHOTS = Path(os.environ.get("WANFORM_SCREENSHOTS") or tempfile.gettempdir()) / (
    "wanform-screenshots"
)
SCRIPT_PROMPT = "<script>window.__pwned = 1</script> a fox <b>in bold?</b>"
BOXES = {"a.png": [[100, 50, 400, 300], [500, 120, 780, 590]], "b.png": [[10, 20, 200, 380]]}
PALETTE = [("#264653", 40), ("#E9C46A", 35), ("#E76F51", 25)]
SCENARIO = """\
faults:
  - {action: partial, prompt: HALF, failed: 1, code: DataInspectionFailed}
  - {action: fail, prompt: BROKEN, code: InternalError}
"""
RECIPES = {
    "boxes": f"""\
        model: wan2.7-image
        prompt: {SCRIPT_PROMPT!r}
        inputs:
          - path: a.png
            bboxes: {BOXES["a.png"]}
          - path: b.png
            bboxes: {BOXES["b.png"]}
        palette:
          - {{hex: "{PALETTE[0][0]}", ratio: {PALETTE[0][1]}}}
          - {{hex: "{PALETTE[1][0]}", ratio: {PALETTE[1][1]}}}
          - {{hex: "{PALETTE[2][0]}", ratio: {PALETTE[2][1]}}}
        size: 1K
        n: 2
        seed: 1
        """,
    "half": """\
        model: wan2.7-image
        prompt: A HALF made poster.
        n: 2
        seed: 2
        """,
    "broken": """\
        model: wan2.7-image-pro
        prompt: A BROKEN vase.
        n: 1
        seed: 3
        """,
}


def wanform(root: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    """`wanform ARGS` as a process in `root`; asserts its exit code unless `check` is None."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    done = subprocess.run(
        [sys.executable, "-m", "wanform.runner.cli", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check is not None:
        assert done.returncode == check, (done.stdout, done.stderr)
    return done


def make_project(root: Path) -> Path:
    """Inputs with boxes, a palette, a prompt with markup, and recipes the faults fail."""
    (root / "recipes").mkdir(parents=True)
    Image.new("RGB", (800, 600), (200, 180, 120)).save(root / "recipes" / "a.png")
    Image.new("RGB", (400, 400), (90, 140, 200)).save(root / "recipes" / "b.png")
    for name, text in RECIPES.items():
        (root / "recipes" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    return root


REPO = Path(__file__).resolve().parents[2]
# Recipes of this repository that make or take what a card must show: a story's text, a mask,
# an input another job makes.
SHOWCASE = (
    "recipes/wan26-image-interleave.yaml",
    "recipes/wanx21-description-edit-with-mask.yaml",
    "recipes/chains/scene-1-generate.yaml",
    "recipes/chains/scene-2-edit.yaml",
)


def make_showcase(root: Path) -> Path:
    """The SHOWCASE recipes with their images, as a project of their own."""
    for name in SHOWCASE:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, root / name)
    shutil.copytree(REPO / "recipes" / "images", root / "recipes" / "images")
    return root


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


class EmulatorProcess:
    """`wanform emulator` on a free port, for as long as the `with` block."""

    def __init__(self, *args: str) -> None:
        self.args = args

    def __enter__(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wanform.runner.cli", "emulator", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        assert self.base_url.startswith("http://"), self.base_url
        self.origin = self.base_url.removesuffix("/api/v1")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A full-page screenshot into the folder the test run prints at its end."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


KEY = "sk-wanform-dashboard-0123456789"


def http(
    url: str, method: str = "GET", body: object = None, headers: dict | None = None
) -> tuple[int, dict]:
    """A request as a program makes it (no Origin, no Sec-Fetch-*): status and JSON body."""
    import json
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


def submit(base_url: str, prompt: str) -> tuple[int, dict]:
    """An asynchronous wan2.7-image task with one image."""
    body = {
        "model": "wan2.7-image",
        "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        "parameters": {"n": 1, "size": "1K"},
    }
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    return http(base_url + "/services/aigc/image-generation/generation", "POST", body, headers)
