"""Task query answers, serialised: a task's answer changes only with its status, but for the
request_id each answer carries."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable

ANSWERS_KEPT = 4096  # the most recently asked for: a runner polls its tasks in flight in turn
_PLACEHOLDER = "wanform-request-id"


class QueryAnswers:
    """A task query's JSON body around its request_id, kept per task, status and base URL (its
    result links name it), so that a repeated query makes no dict and no JSON."""

    def __init__(self, kept: int = ANSWERS_KEPT) -> None:
        self._kept = kept
        self._bodies: OrderedDict[tuple[str, str, str], tuple[bytes, bytes]] = OrderedDict()

    def body(
        self, task_id: str, status: str, base: str, request_id: str, make: Callable[[str], dict]
    ) -> bytes:
        """The answer to a query about a task in `status`, reached at `base` ("" if the answer
        links nothing); `make(request_id)` builds it when it is not kept (and then its request_id
        must be its first key)."""
        key = (task_id, status, base)
        kept = self._bodies.get(key)
        if kept is None:
            text = json.dumps(make(_PLACEHOLDER))
            head, _, tail = text.partition(_PLACEHOLDER)  # the first: request_id leads
            kept = (head.encode(), tail.encode())
            self._bodies[key] = kept
            if len(self._bodies) > self._kept:
                self._bodies.popitem(last=False)
        else:
            self._bodies.move_to_end(key)
        return kept[0] + request_id.encode() + kept[1]

    def reset(self) -> None:
        self._bodies.clear()
