"""What changed in a job since the lock recorded it, as Terraform says it: each changed field as
old -> new, an input image as its before and after thumbnails."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from wanform.runner.gitops.plan import changed_fields

# (a field's name, the identity the lock gave its image) -> the picture of that image, or None
Before = Callable[[dict, str], dict | None]
UNSET = "(not set)"
HASHED = "(a longer text: the lock keeps only its hash)"


def _shown(values: Mapping[str, object], name: str) -> str:
    if name not in values:
        return UNSET
    value = values[name]
    if isinstance(value, str) and value.startswith("sha256:"):
        return HASHED
    return json.dumps(value, ensure_ascii=False)


def changes(
    old: Mapping[str, object], new: Mapping[str, object], inputs: list[dict], before: Before
) -> list[dict]:
    """Each field whose value differs; a field that is an input image (of `inputs`, the card's)
    carries its `after` picture and, where `before` finds it, its `before` one."""
    images = {i["field"]: i for i in inputs} | {
        i["mask"]["field"]: i["mask"] for i in inputs if "mask" in i
    }
    out = []
    for name in changed_fields(old, new):
        change: dict = {"field": name, "old": _shown(old, name), "new": _shown(new, name)}
        if name in images:
            change["after"] = images[name]
            found = before(images[name], str(old.get(name, "")))
            change["before"] = found
            change["old"] = "the earlier image" if name in old else UNSET
            change["new"] = "this image"
        out.append(change)
    return out
