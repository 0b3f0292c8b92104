"""`wanform init`: a new project's files, and the JSON Schemas an editor checks them with.

Each YAML file names its schema twice: for yaml-language-server (VS Code and LSP editors) and, on
the second line, for JetBrains IDEs.

The schemas go to `schemas/`, a folder committed with the project (not `.wanform/`, which is
ignored): whoever clones the repository gets the schemas its modelines point at.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from wanform.runner.app.errors import DestinationError
from wanform.runner.recipes.load import PROJECT_FILE
from wanform.spec.schemagen import project_schema, recipe_schema, schema_text

SCHEMA_DIR = "schemas"
EXAMPLE_RECIPE = "recipes/example.yaml"
EXAMPLE_IMAGE = "recipes/images/house.png"
IGNORED = (".wanform/", "report/")

PROJECT_TEXT = f"""\
# yaml-language-server: $schema={SCHEMA_DIR}/project.schema.json
# $schema: {SCHEMA_DIR}/project.schema.json
# The project file: what every recipe shares. Every key is optional; the values below are the
# defaults or examples. It never names a URL (a repository cannot send your key elsewhere).
recipes:                  # globs from this folder
  - recipes/**/*.yaml
defaults:                 # recipe keys for every recipe whose model takes them; a recipe's own win
  watermark: false
out: out                  # where the images go, inside the project
# max_images: 20          # refuse a run that could bill more images (as --max-images)
# max_cost: 5             # or more CNY at list price (as --max-cost)
# target: emulator        # or dashscope (with region:); default: dashscope when
#                         # DASHSCOPE_API_KEY is set, else the embedded emulator
"""

RECIPE_TEXT = f"""\
# yaml-language-server: $schema=../{SCHEMA_DIR}/recipe.schema.json
# $schema: ../{SCHEMA_DIR}/recipe.schema.json
# An example recipe. `wanform validate` checks it; `wanform run` without DASHSCOPE_API_KEY runs
# it on the embedded emulator (offline, nothing billed).
description: Paint the door of the house red, inside the box drawn on image 1.
model: wan2.7-image
prompt: Paint the door inside the box bright red; keep everything else as it is.
inputs:                   # image 1, image 2, ... in this order
  - path: images/house.png          # relative to this file
    bboxes: [[200, 200, 280, 320]]  # x1, y1, x2, y2 in the image's pixels
size: 1K
n: 1                      # images to make, each billed
seed: 42
"""

SIZE = (480, 360)


def house_png() -> bytes:
    """The example recipe's input image: a house with its door where the recipe's box is."""
    image = Image.new("RGB", SIZE, (150, 200, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 320, 480, 360), fill=(90, 160, 80))
    draw.rectangle((120, 170, 360, 320), fill=(235, 225, 200))
    draw.polygon([(100, 170), (240, 70), (380, 170)], fill=(150, 60, 50))
    draw.rectangle((200, 200, 280, 320), fill=(110, 80, 50))
    draw.rectangle((140, 200, 185, 245), fill=(200, 230, 250))
    draw.rectangle((295, 200, 340, 245), fill=(200, 230, 250))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def schema_files() -> dict[str, str]:
    """File name -> text of the schemas an editor checks recipes and wanform.yaml with."""
    return {
        "recipe.schema.json": schema_text(recipe_schema()),
        "project.schema.json": schema_text(project_schema()),
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write (or rewrite) the editor's schemas into `directory`, made if missing; the paths."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in schema_files().items():
            path = directory / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise DestinationError(f"cannot write the schemas into {directory}: {exc}") from exc
    return written


def scaffold_files() -> dict[str, bytes]:
    """Path inside the project -> content, for every file `init` writes but .gitignore."""
    files = {PROJECT_FILE: PROJECT_TEXT.encode(), EXAMPLE_RECIPE: RECIPE_TEXT.encode()}
    files[EXAMPLE_IMAGE] = house_png()
    for name, text in schema_files().items():
        files[f"{SCHEMA_DIR}/{name}"] = text.encode()
    return files


def ignore_text(existing: str) -> str:
    """What .gitignore must gain so that it ignores wanform's state and report folders."""
    missing = [entry for entry in IGNORED if entry not in existing.splitlines()]
    if not missing:
        return ""
    lead = "\n" if existing and not existing.endswith("\n") else ""
    return lead + "".join(f"{entry}\n" for entry in missing)


def init_project(directory: Path) -> list[Path]:
    """Make a new project in `directory` (made if missing): the files written, .gitignore's
    entries added to one already there. Nothing is written when any other file exists."""
    files = scaffold_files()
    taken = [name for name in files if (directory / name).exists()]
    if taken:
        raise DestinationError(
            f"{directory / taken[0]} already exists: init writes nothing over a file; "
            "move it away, or init another folder"
        )
    written = []
    try:
        for name, content in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as handle:
                handle.write(content)
            written.append(path)
        ignore = directory / ".gitignore"
        existing = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
        addition = ignore_text(existing)
        if addition:
            with ignore.open("a", encoding="utf-8") as handle:
                handle.write(addition)
            written.append(ignore)
    except OSError as exc:
        raise DestinationError(f"cannot write {exc.filename or directory}: {exc.strerror}") from exc
    return written
