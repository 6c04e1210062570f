"""``Client.events()``: the pull feed as an iterator that pages and, following, long-polls."""

from __future__ import annotations

import threading
import time

import pytest

from dingstore.client import Client

pytestmark = pytest.mark.shapes("embedded")  # the feed's shapes are tests/api/test_event_feed.py's


def test_events_after_a_subscription(client: Client) -> None:
    space = client.create_space()
    client.subscribe(space)
    folder = client.create_folder(space, "f")
    made = client.upload(b"x", folder, "x.txt")
    client.rename(made, "y.txt")

    events = list(client.events(page_size=2))
    assert [(e.event_type, e.dentry_id) for e in events] == [
        ("storage_dentry_create", folder.id),
        ("storage_dentry_create", made.id),
        ("storage_dentry_update", made.id),
    ]
    assert [e.last_in_page for e in events] == [False, True, True]
    assert events[0].space_id == space.id and events[0].event_scope == "SPACE"
    # the born time comes through as epoch ms (it was once parsed as an ISO time, so None)
    now_ms = time.time() * 1000
    assert all(isinstance(e.event_born_time, int) for e in events)
    assert all(now_ms - 60_000 < e.event_born_time <= now_ms + 1000 for e in events)
    # reading on from the last cursor: nothing new; from a page's end: the rest
    assert list(client.events(events[-1].cursor)) == []
    assert [e.event_id for e in client.events(events[1].cursor)] == [events[2].event_id]

    client.unsubscribe(space)
    client.create_folder(space, "unheard")
    assert list(client.events(events[-1].cursor)) == []


def test_following_waits_for_the_next_event(client: Client) -> None:
    space = client.create_space()
    client.subscribe(space)
    feed = client.events("latest", follow=True, wait_seconds=5)
    later = threading.Timer(0.1, lambda: client.create_folder(space, "late"))
    started = time.monotonic()
    later.start()
    event = next(feed)
    assert event.event_type == "storage_dentry_create"
    assert time.monotonic() - started < 4  # answered when the event came, not at the timeout
    later.join()
