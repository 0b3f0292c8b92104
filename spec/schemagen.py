"""JSON Schemas generated from the model table: one request schema per model, the recipe schema and
the project schema; and the code that checks documents against them.

The files in spec/schemas/ and spec/validators/ are this module's output for the default table;
`python -m wanform.spec.schemagen` rewrites them, and a test fails when they drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import fastjsonschema

from wanform.spec.models import MODELS, SEED_MAX, WANX21_FUNCTIONS, WORKSPACE_REGIONS, ModelSpec

SCHEMA_DIR = Path(__file__).parent / "schemas"
VALIDATOR_DIR = Path(__file__).parent / "validators"
COMMAND = "python -m wanform.spec.schemagen"
DRAFT = "http://json-schema.org/draft-07/schema#"
BASE_ID = "https://wanform.dev/schemas/"
RECIPE_NAME = r"^[a-z0-9][a-z0-9._-]*$"
BOX = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 4,
    "maxItems": 4,
    "description": "[x1, y1, x2, y2] in pixels of the original image, origin top-left",
}
BOOLEAN_PARAMETERS = (
    "watermark",
    "prompt_extend",
    "thinking_mode",
    "enable_sequential",
    "enable_interleave",
    "stream",
    "is_sketch",
)
SCALE = {"type": "number", "minimum": 1.0, "maximum": 2.0}


N_SCHEMA = {
    "type": "integer",
    "minimum": 1,
    "description": "its upper bound depends on the mode; see spec/models.py",
}
MATRIX_FORBIDDEN = (
    "name",
    "model",
    "inputs",
    "mask",
    "palette",
    "matrix",
    "description",
    "rows",
    "key",
    "files",
)


def _max_images_schema(spec: ModelSpec) -> dict:
    """`max_images`, from the mode that takes it (wan2.6 interleave); {} for other models."""
    for mode in spec.modes.values():
        if mode.max_images is not None:
            return {
                "type": "integer",
                "minimum": int(mode.max_images.low),
                "maximum": int(mode.max_images.high),
                # not "default": fastjsonschema would write it into the checked body
                "description": f"an upper bound; default {mode.max_images_default}",
            }
    return {}


def _parameter_schemas(spec: ModelSpec) -> dict[str, dict]:
    """Type and simple range of every parameter the model documents."""
    known: dict[str, dict] = {
        "n": N_SCHEMA,
        "seed": {"type": "integer", "minimum": 0, "maximum": SEED_MAX},
        "size": {"type": "string", "description": 'a tier such as "2K" or an explicit "W*H"'},
        "negative_prompt": {"type": "string"},
        "max_images": _max_images_schema(spec),
        "strength": {"type": "number", "minimum": 0.0, "maximum": 1.0},
        "top_scale": SCALE,
        "bottom_scale": SCALE,
        "left_scale": SCALE,
        "right_scale": SCALE,
        "upscale_factor": {"type": "integer", "minimum": 1, "maximum": 4},
        "bbox_list": {"type": "array", "items": {"type": "array", "items": BOX}},
        "color_palette": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["hex", "ratio"],
                "properties": {"hex": {"type": "string"}, "ratio": {"type": "string"}},
            },
        },
        **{name: {"type": "boolean"} for name in BOOLEAN_PARAMETERS},
    }
    return {name: known[name] for name in sorted(spec.parameters)}


def _input_schema(spec: ModelSpec) -> dict:
    if spec.family == "messages":
        item = {
            "type": "object",
            "properties": {"text": {"type": "string"}, "image": {"type": "string"}},
            "anyOf": [{"required": ["text"]}, {"required": ["image"]}],
        }
        message = {
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"enum": ["user"]},
                "content": {"type": "array", "minItems": 1, "items": item},
            },
        }
        return {
            "type": "object",
            "required": ["messages"],
            "properties": {"messages": {"type": "array", "minItems": 1, "items": message}},
        }
    props: dict = {"prompt": {"type": "string"}}
    if spec.family == "images":
        props |= {
            "images": {"type": "array", "items": {"type": "string"}},
            "negative_prompt": {"type": "string"},
        }
        return {"type": "object", "required": ["prompt", "images"], "properties": props}
    props |= {
        "function": {"enum": list(WANX21_FUNCTIONS)},
        "base_image_url": {"type": "string"},
        "mask_image_url": {"type": "string"},
    }
    return {
        "type": "object",
        "required": ["prompt", "function", "base_image_url"],
        "properties": props,
    }


def request_schema(spec: ModelSpec) -> dict:
    """The request body of `spec`'s endpoints;
    unknown parameters are allowed, as DashScope allows them."""
    endpoints = [p for p in (spec.sync_path, spec.async_path) if p]
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}request-{spec.name}.schema.json",
        "title": f"{spec.name} request body",
        "description": f"POST /api/v1{' or /api/v1'.join(endpoints)}. "
        "Generated from spec/models.py.",
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"enum": [spec.name]},
            "input": _input_schema(spec),
            "parameters": {"type": "object", "properties": _parameter_schemas(spec)},
        },
    }


def _source_schema() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "path": {
                "type": "string",
                "description": "relative to the recipe file, inside the project root",
            },
            "url": {"type": "string", "pattern": "^(https?|oss)://"},
            "data": {"type": "string", "pattern": "^data:"},
        },
    }


REFERENCE = {
    "from": {
        "type": "string",
        "minLength": 1,
        "description": "another job's output: its name as wanform prints it, or RECIPE_PATH::JOB",
    },
    "image": {"type": "integer", "minimum": 1, "description": "which of its images, from 1"},
}
# `from: matrix` on an input takes, job by job, each reference the recipe's matrix lists
MATRIX_REFERENCE = "matrix"
DATA_SCHEMAS = {
    "rows": {
        "type": "string",
        "pattern": r"\.(csv|jsonl|json|yaml|yml)$",
        "description": "a data file, relative to the recipe: one job per row (CSV with a header "
        "row, JSON Lines, or a JSON or YAML list of mappings)",
    },
    "key": {
        "type": "string",
        "minLength": 1,
        "description": "the column naming each row: the job is NAME[COLUMN=VALUE]",
    },
    "files": {
        "type": "string",
        "minLength": 1,
        "description": "a glob relative to the recipe: one job per file, with the fields "
        "{path}, {name} and {stem}",
    },
}
MATRIX_FILTER = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "object", "minProperties": 1},
}


def _recipe_parameters(models: Mapping[str, ModelSpec]) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    for spec in models.values():
        for name, schema in _parameter_schemas(spec).items():
            if name not in ("bbox_list", "color_palette", "stream"):
                merged.setdefault(name, schema)
    return merged


def recipe_keys(spec: ModelSpec) -> list[str]:
    """The recipe keys `spec` accepts: people's keys for its inputs plus its API parameters."""
    keys = {"name", "description", "model", "prompt", "matrix", "inputs", *DATA_SCHEMAS} | (
        spec.parameters - {"bbox_list", "color_palette", "stream"}
    )
    if "color_palette" in spec.parameters:
        keys.add("palette")
    if spec.family == "imageedit":
        keys |= {"function", "mask"}
    if spec.family == "images":
        keys.add("negative_prompt")
    return sorted(keys)


def _model_rules(spec: ModelSpec) -> dict:
    """The keys one model takes, at the top level, in `matrix` and on each input."""
    keys = recipe_keys(spec)
    input_keys = ["path", "url", "data", "from", "image"] + (
        ["bboxes"] if "bbox_list" in spec.parameters else []
    )
    return {
        "propertyNames": {"enum": keys},
        "properties": {
            "matrix": {"propertyNames": {"enum": [*keys, "from", "include", "exclude"]}},
            "inputs": {"items": {"propertyNames": {"enum": input_keys}}},
        },
    }


def recipe_schema(models: Mapping[str, ModelSpec] = MODELS) -> dict:
    """Recipe format v1, usable by editors via `# yaml-language-server: $schema=`."""
    source = _source_schema()
    input_item = {
        **source,
        "examples": [{"path": "images/photo.png"}],
        "dependencies": {"image": ["from"]},
        "properties": {
            **source["properties"],
            **REFERENCE,
            "bboxes": {
                "type": "array",
                "items": BOX,
                "description": "wan2.7 interactive editing: at most "
                f"{max(m.boxes_per_image for m in models.values())} boxes",
            },
        },
    }
    colour = {
        "type": "object",
        "additionalProperties": False,
        "required": ["hex", "ratio"],
        "properties": {
            "hex": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"},
            "ratio": {"type": ["number", "string"], "description": 'percent: 25, 25.5 or "25.00%"'},
        },
    }
    properties = {
        "name": {"type": "string", "pattern": RECIPE_NAME},
        "description": {"type": "string"},
        "model": {"enum": list(models)},
        "prompt": {"type": "string"},
        "inputs": {"type": "array", "items": input_item},
        "mask": {**source, "examples": [{"path": "images/mask.png"}]},
        "function": {"enum": list(WANX21_FUNCTIONS)},
        "palette": {"type": "array", "items": colour},
        **_recipe_parameters(models),
        **DATA_SCHEMAS,
    }
    varying = sorted(k for k in properties if k not in MATRIX_FORBIDDEN)
    reference = {
        "type": "object",
        "additionalProperties": False,
        "required": ["from"],
        "properties": REFERENCE,
    }
    properties["matrix"] = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "description": "one job per combination of these values",
        "properties": {
            **{k: {"type": "array", "minItems": 1, "items": properties[k]} for k in varying},
            "from": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [REFERENCE["from"], reference]},
                "description": "one job per reference, for the input written `from: matrix`",
            },
            "include": {
                **MATRIX_FILTER,
                "description": "values added to each combination (or row) an entry matches on its "
                "matrix keys and columns; without rows, an entry matching none is a job",
            },
            "exclude": {**MATRIX_FILTER, "description": "combinations (or rows) to leave out"},
        },
    }
    per_model = [
        {
            "if": {"properties": {"model": {"const": name}}, "required": ["model"]},
            "then": _model_rules(spec),
        }
        for name, spec in models.items()
    ]
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}recipe.schema.json",
        "title": "wanform recipe (format v1)",
        "description": "One job (or a matrix of jobs) for a DashScope Wan image model. "
        "Generated from spec/models.py.",
        "type": "object",
        "required": ["model"],
        "additionalProperties": False,
        "properties": properties,
        "dependencies": {
            "rows": ["key"],
            "key": ["rows"],
            "files": {"not": {"required": ["rows"]}},
        },
        "allOf": per_model,
    }


# Recipe keys a project may give every recipe: not a job's identity, inputs or prompt.
NOT_DEFAULTS = (
    "name",
    "description",
    "model",
    "prompt",
    "inputs",
    "mask",
    "function",
    "matrix",
    *DATA_SCHEMAS,
)
# Where the project file puts images: a folder inside the project, never a URL nor an escape.
PROJECT_OUT = r"^(?![/\\])(?!.*(^|[/\\])\.\.([/\\]|$))[^:]+$"
# Or an S3-compatible store: s3://bucket/prefix (the bucket by S3's naming rule).
STORE_OUT = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/.][^/]*)*/?$"


def project_schema(models: Mapping[str, ModelSpec] = MODELS) -> dict:
    """`wanform.yaml`, the project file. It never names a URL: a repository must not be able to
    send the API key elsewhere, so every key is listed and no other is accepted."""
    recipe = recipe_schema(models)["properties"]
    defaults = {k: v for k, v in recipe.items() if k not in NOT_DEFAULTS}
    regions = sorted({"cn-beijing", *WORKSPACE_REGIONS})
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}project.schema.json",
        "title": "wanform project file (wanform.yaml)",
        "description": "What every recipe of the project shares. Generated from spec/models.py.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "recipes": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1, "pattern": PROJECT_OUT},
                "description": "globs from the project folder; default recipes/**/*.yaml",
            },
            "defaults": {
                "type": "object",
                "additionalProperties": False,
                "properties": defaults,
                "description": "recipe keys for every recipe whose model takes them; "
                "the recipe's own keys win",
            },
            "out": {
                "type": "string",
                "anyOf": [{"pattern": PROJECT_OUT}, {"pattern": STORE_OUT}],
                "description": "the image folder, inside the project (default out), or an "
                "S3-compatible store as s3://bucket/prefix",
            },
            "storage": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "endpoint": {"type": "string", "pattern": "^https?://[^/?#@]+/?$"},
                    "region": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                    "addressing": {"enum": ["virtual", "path"]},
                },
                "description": "the store of an s3:// out that is not AWS S3: its endpoint "
                "(https), region and addressing (virtual: bucket.host, as OSS requires, the "
                "default; path: host/bucket, as MinIO serves by default); credentials only from "
                "the standard AWS places",
            },
            "max_images": {"type": "integer", "minimum": 0},
            "max_cost": {"type": "number", "minimum": 0},
            "target": {
                "enum": ["emulator", "dashscope"],
                "description": "never a URL: that only from --target",
            },
            "region": {"enum": regions},
        },
    }


def generated(models: Mapping[str, ModelSpec] = MODELS) -> dict[str, dict]:
    """File name -> schema, for every generated schema."""
    files = {f"request-{name}.schema.json": request_schema(spec) for name, spec in models.items()}
    files["recipe.schema.json"] = recipe_schema(models)
    files["project.schema.json"] = project_schema(models)
    return files


def schema_text(schema: dict) -> str:
    """The stable text of a schema file."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def validator_module(name: str) -> str:
    """The module of spec/validators/ that checks schema `name`, a file's stem such as `recipe`."""
    return re.sub(r"\W", "_", name)


def validator_text(name: str, schema: dict) -> str:
    """The source of the module whose `validate` checks a document against `schema`: the code
    fastjsonschema generates, which depends on its version (pinned in pyproject.toml)."""
    # Without a top-level $id the generated entry point is `validate`, as documented; our schemas
    # refer only within themselves, so the id changes nothing else.
    anonymous = {k: v for k, v in schema.items() if k != "$id"}
    header = (
        f'"""Generated by `{COMMAND}` from spec/schemas/{name}.schema.json with '
        f'fastjsonschema {fastjsonschema.VERSION}: do not edit."""\n\n'
    )
    return header + fastjsonschema.compile_to_code(anonymous)


def validators(models: Mapping[str, ModelSpec] = MODELS) -> dict[str, str]:
    """File name -> source, for every module of spec/validators/ (one per generated schema)."""
    files = {"__init__.py": f'"""Generated by `{COMMAND}`: one module per schema."""\n'}
    for file_name, schema in generated(models).items():
        name = file_name.removesuffix(".schema.json")
        files[f"{validator_module(name)}.py"] = validator_text(name, schema)
    return files


def main() -> None:
    for name, schema in generated().items():
        (SCHEMA_DIR / name).write_text(schema_text(schema), encoding="utf-8")
    for name, text in validators().items():
        (VALIDATOR_DIR / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
