"""Task query answers: ids of their own."""

from __future__ import annotations

import uuid

from wanform.emulator.state import ids


def test_ids_are_distinct_uuid4_strings():
    """Request and task ids read as version-4 RFC 4122 UUIDs, as uuid.uuid4() writes them."""
    made = [ids.uuid4() for _ in range(2000)]
    parsed = [uuid.UUID(text) for text in made]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == made
    assert len(set(made)) == len(made)
