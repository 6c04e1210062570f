"""The run's order (tests/scheduling.py): each heavy test heads one worker's share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest

from tests import scheduling


@dataclass
class Item:
    name: str
    seconds: float = 0.0

    def get_closest_marker(self, name: str) -> Any:
        return pytest.mark.heavy(self.seconds).mark if self.seconds and name == "heavy" else None


def order(items: list[Item], workers: int) -> list[str]:
    done = scheduling.heavy_first(cast(list[pytest.Item], items), workers)
    return [cast(Item, item).name for item in done]


def test_shares_are_cut_as_xdist_cuts_them() -> None:
    assert scheduling.share_sizes(10, 4) == [2, 2, 3, 3]
    assert sum(scheduling.share_sizes(1437, 4)) == 1437


def test_each_heavy_test_heads_the_least_loaded_share() -> None:
    light = [Item(f"t{n}") for n in range(12)]
    heavy = [Item("a", 60), Item("b", 50), Item("c", 40), Item("d", 30), Item("e", 25)]
    items = light[:5] + heavy[2:] + light[5:] + heavy[:2]
    ran = order(items, 4)
    assert sorted(ran) == sorted(i.name for i in items)
    shares = [ran[0:4], ran[4:8], ran[8:12], ran[12:17]]
    # a, b, c, d each head one share; e joins the lightest (d's, 30 s)
    assert [share[0] for share in shares] == ["a", "b", "c", "d"]
    assert shares[3][1] == "e"
    # the light tests keep their order around them
    assert [n for n in ran if n.startswith("t")] == [i.name for i in light]


def test_without_workers_the_order_is_kept() -> None:
    items = [Item("t0"), Item("a", 60), Item("t1")]
    assert order(items, 0) == ["t0", "a", "t1"]


@dataclass
class Quiet(Item):
    def get_closest_marker(self, name: str) -> Any:
        return pytest.mark.quiet.mark if name == "quiet" else super().get_closest_marker(name)


def test_a_quiet_test_runs_last() -> None:
    items = [Quiet("q"), Item("t0"), Item("a", 60), Item("t1"), Item("t2")]
    assert order(items, 2) == ["a", "t0", "t1", "t2", "q"]
