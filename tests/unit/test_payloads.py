"""Task payloads: what a request writes reads back the same; the untyped dicts of the previous
format (no ``version``) read under the same keys; a newer version than this code knows fails
the task rather than being misread."""

from __future__ import annotations

import pytest

from dingstore.engine.worker import SystemicFailure
from dingstore.service.bulk import copies, counts, deletes, moves, steps

PAYLOADS: list[steps.Payload] = [
    copies.CopyPayload(1, 2, 3, copy_root=4),
    copies.CopyPayload(1, 2, 3, copy_root=4, merge=True),
    moves.MovePayload(1, 2, 3, from_parent=0, from_name="top"),
    moves.MovePayload(1, 2, 3, target_root=4, merge=True),
    deletes.DeletePayload(1, 2),
    counts.CountPayload(1, 2),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_a_payload_reads_back_as_written(payload: steps.Payload) -> None:
    stored = payload.to_json()
    assert stored["version"] == 1
    assert type(payload).from_json(stored) == payload


@pytest.mark.parametrize(
    ("previous", "read"),
    [
        (
            {"root": 1, "space": 2, "target_space": 3, "copy_root": 4},
            copies.CopyPayload(1, 2, 3, copy_root=4),
        ),
        (
            {"root": 1, "space": 2, "target_space": 3, "copy_root": 4, "merge": True},
            copies.CopyPayload(1, 2, 3, copy_root=4, merge=True),
        ),
        (
            {"root": 1, "space": 2, "target_space": 3, "from_parent": 0, "from_name": "top"},
            moves.MovePayload(1, 2, 3, from_parent=0, from_name="top"),
        ),
        (
            {"root": 1, "space": 2, "target_space": 3, "target_root": 4, "merge": True},
            moves.MovePayload(1, 2, 3, target_root=4, merge=True),
        ),
        ({"root": 1, "space": 2}, deletes.DeletePayload(1, 2)),
        ({"root": 1, "space": 2}, counts.CountPayload(1, 2)),
        (
            {"root": 1, "space": 2, "target_space": 2, "from_parent": 5, "from_name": "top"},
            counts.CountPayload(1, 2),
        ),
    ],
)
def test_the_previous_format_reads(previous: dict[str, object], read: steps.Payload) -> None:
    assert type(read).from_json(previous) == read


def test_a_newer_version_fails_the_task() -> None:
    with pytest.raises(SystemicFailure) as failure:
        deletes.DeletePayload.from_json({"version": 2, "root": 1, "space": 2})
    assert failure.value.code == "systemError"
