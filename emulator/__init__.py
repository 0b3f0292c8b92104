"""An offline DashScope for the Wan image models: same endpoints, bodies, errors and limits.

No key or internet needed. Defaults (from wanform.spec.models and EmulatorConfig, on a virtual
clock that `speed` scales and the admin API advances):
- a task is PENDING for 0.05 s, then RUNNING for its model's typical duration: wan2.7-image-pro
  and wan2.7-image 30 s, wan2.6-image 60 s, wan2.5-i2i-preview 45 s, wanx2.1-imageedit 10 s;
  sync calls too.
- per account and model: 5 submissions/s and 5 tasks in flight (wanx2.1-imageedit: 2 and 2);
  tasks over the cap get 429 (or wait as PENDING: `service.over_cap=queue`); 20 task queries/s
  per account; 100 upload policies/s per account and model.
- task ids read UNKNOWN 24 h after submission, result URLs expire 24 h after the task ended,
  uploads after 48 h; request bodies over 32 MB get 400 BadRequest.TooLarge.
- input images on disk up to 512 MB, the least recently used evicted first (a result whose input
  went answers 404, never a wrong image); a client has 10 s to send its first request head and
  each body, an idle connection is closed after 20 s; at shutdown, running requests get 0.5 s.
Use `create_app(config)` in-process, `await start(config)` on a free port, or `serve(config)`
from the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wanform.emulator.app import create_app, serve, start
    from wanform.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app", "serve", "start"]
# imported when first asked for: the pytest plugin, a submodule, costs nothing in every session
_HOMES = {
    "create_app": "app",
    "serve": "app",
    "start": "app",
    "EmulatorConfig": "config",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
