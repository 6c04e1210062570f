"""``TtlCache`` (service/ttl_cache.py), the auth caches' map: entries expire ``ttl`` after they
were set, the oldest go first when it is full, and setting a key again renews it."""

from __future__ import annotations

from dingstore.service.ttl_cache import TtlCache


class Timer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_ttl_after_it_was_set() -> None:
    timer = Timer()
    cache: TtlCache[str, int] = TtlCache(10, 30, timer=timer)
    cache["a"] = 1
    timer.now += 29.9
    assert cache.get("a") == 1
    cache["b"] = 2
    timer.now += 0.1
    assert cache.get("a") is None and cache.get("b") == 2
    assert len(cache) == 1


def test_when_full_the_oldest_goes() -> None:
    timer = Timer()
    cache: TtlCache[str, int] = TtlCache(3, 30, timer=timer)
    for i, key in enumerate("abcd"):
        cache[key] = i
    assert len(cache) == 3
    assert [cache.get(k) for k in "abcd"] == [None, 1, 2, 3]


def test_setting_again_renews_and_pop_forgets() -> None:
    timer = Timer()
    cache: TtlCache[str, int] = TtlCache(3, 30, timer=timer)
    cache["a"] = 1
    cache["b"] = 2
    timer.now += 20
    cache["a"] = 3
    timer.now += 20
    assert cache.get("a") == 3 and cache.get("b") is None
    cache.pop("a")
    cache.pop("nothing")
    assert cache.get("a") is None and len(cache) == 0


def test_expired_entries_go_as_new_ones_come() -> None:
    timer = Timer()
    cache: TtlCache[int, int] = TtlCache(100, 1, timer=timer)
    for i in range(10):
        cache[i] = i
    timer.now += 2
    for i in range(10, 20):
        cache[i] = i
    assert len(cache) == 10
