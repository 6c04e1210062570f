"""Name rules (spec §1.8, src/dingstore/service/names.py), property-based, through the SDK.

A name is trimmed of leading and trailing spaces; after that it is refused when it is empty,
longer than 255 characters, ends with ``.``, or holds a control character (Cc, tab included), a
line or paragraph separator, a bidi embedding, override, isolate or mark, or one of
``* " < > | / \\``. AddFolder refuses with ``dentryNameIllegal``, RenameDentry with
``paramError.name``, and neither changes anything. Every other name round-trips exactly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs

from tests.conftest import Tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage

MAX = 255
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
BIDI = [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), "\u200e", "\u200f"]
UNSAFE = [*CONTROLS, "\u2028", "\u2029", *BIDI, "\u061c"]
FORBIDDEN = [*UNSAFE, "*", '"', "<", ">", "|", "/", "\\"]
ALLOWED = hs.characters(exclude_categories=("Cs",), exclude_characters=FORBIDDEN)

with_forbidden = hs.tuples(
    hs.text(ALLOWED, max_size=20), hs.sampled_from(FORBIDDEN), hs.text(ALLOWED, max_size=20)
).map("".join)
ending_with_dot = hs.tuples(
    hs.text(ALLOWED, max_size=30), hs.text(".", min_size=1, max_size=3), hs.text(" ", max_size=3)
).map("".join)
blank = hs.text(" ", max_size=10)
too_long = hs.tuples(hs.text(ALLOWED, min_size=1, max_size=8), hs.integers(MAX + 1, 400)).map(
    lambda t: (t[0].replace(" ", "_") * 400)[: t[1]]
)
ILLEGAL = hs.one_of(with_forbidden, ending_with_dot, blank, too_long)


def legal(name: str) -> bool:
    core = name.strip(" ")
    return bool(core) and len(core) <= MAX and not core.endswith(".")


LEGAL = (
    hs.tuples(hs.text(" ", max_size=3), hs.text(ALLOWED, min_size=1, max_size=MAX),
              hs.text(" ", max_size=3))
    .map("".join)
    .filter(legal)
)  # fmt: skip

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Home:
    """A space with a folder ``/home`` holding one folder, ``existing``."""

    st: Storage
    space_id: str
    home_id: str
    existing_id: str


@pytest.fixture
def home(server: LiveServer, sdk: Sdk, tenant: Tenant) -> Home:
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    folder = st.add_folder(space.id, "home")
    existing = st.add_folder(space.id, "existing", folder.id)
    return Home(st, space.id, folder.id, existing.id)


def auto_renamed(name: str, n: int) -> str:
    """What AUTO_RENAME makes of a folder name taken n-1 times (names.py)."""
    tail = f"({n})"
    return name[: MAX - len(tail)] + tail


@SETTINGS
@given(name=ILLEGAL)
@example(name="a\tb")
@example(name="x.")
@example(name="x. ")
@example(name="..")
@example(name="")
@example(name="   ")
@example(name="a" * 256)
@example(name=" " + "a" * 256 + " ")
@example(name="a/b")
@example(name="a\\b")
@example(name="a\nb")
@example(name="\x00")
@example(name="\x7f")
@example(name="a\x85b")
@example(name="a\u2028b")
@example(name="\u202egnp.exe")
@example(name="a\u2066b\u2069")
def test_an_illegal_name_is_refused_and_changes_nothing(home: Home, name: str) -> None:
    st = home.st
    before = st.raw_children(home.space_id, home.home_id)
    err = sdk_error(lambda: st.add_folder(home.space_id, name, home.home_id))
    assert (err.statusCode, err.code) == (400, "dentryNameIllegal"), (name, err.data)
    err = sdk_error(lambda: st.rename(home.space_id, home.existing_id, name))
    assert (err.statusCode, err.code) == (400, "paramError.name"), (name, err.data)
    assert st.raw_children(home.space_id, home.home_id) == before


_parents = itertools.count()


@SETTINGS
@given(name=LEGAL, new_name=LEGAL)
@example(name="  docs  ", new_name="docs(1)")
@example(name="x" * MAX, new_name=" " + "y" * MAX + " ")
@example(name=".hidden", new_name="a..b")
@example(name="100% _done_", new_name="100% _done_")
@example(name="中文 名字", new_name="Ünïcödé 🎉")
def test_a_legal_name_round_trips(home: Home, name: str, new_name: str) -> None:
    st, space_id = home.st, home.space_id
    parent = st.add_folder(space_id, f"p{next(_parents)}", home.home_id)
    expected = name.strip(" ")

    made = st.add_folder(space_id, name, parent.id, conflict_strategy="RETURN_ERROR_IF_EXISTS")
    assert (made.name, made.path) == (expected, f"/home/{parent.name}/{expected}")
    assert st.get_dentry(space_id, made.id).name == expected
    assert st.raw_children(space_id, parent.id)[0]["name"] == expected

    again = st.add_folder(space_id, name, parent.id)  # AUTO_RENAME
    assert again.name == auto_renamed(expected, 1)
    third = st.add_folder(space_id, f"  {expected}", parent.id)
    assert third.name == auto_renamed(expected, 2)

    target = new_name.strip(" ")
    if target in (made.name, third.name):
        err = sdk_error(lambda: st.rename(space_id, again.id, new_name))
        assert (err.statusCode, err.code) == (400, "dentryAlreadyExist")
        target = again.name
    else:
        renamed = st.rename(space_id, again.id, new_name)
        assert (renamed.name, renamed.path) == (target, f"/home/{parent.name}/{target}")
    listed = sorted(d.name for d in st.list_dentries(space_id, parent.id))
    assert listed == sorted([expected, target, third.name])


SAMPLES = ["\x00", "\x1b", "\x85", "\u2028", "\u2029", "\u202e", "\u2066", "\u200f", "\u061c"]


def test_every_other_name_follows_the_rule(home: Home) -> None:
    """Space names and app property names refuse what dentry names refuse; a property value
    refuses control characters but tab and line breaks (service/names.py)."""
    st = home.st
    doc = st.add_folder(home.space_id, "doc", app_properties=[("p", "v\tw\r\n", "PUBLIC")])
    before = st.raw_dentry(home.space_id, doc.id)["appProperties"]

    def put(name: str, value: str) -> object:
        return st.raw(
            "PUT", f"/spaces/{home.space_id}/dentries/{doc.id}/appProperties",
            json={"appProperties": [{"name": name, "value": value, "visibility": "PUBLIC"}]},
        )  # fmt: skip

    for char in SAMPLES:
        err = sdk_error(lambda c=char: st.new_space(name=f"a{c}b"))
        assert (err.statusCode, err.code) == (400, "paramError.name"), repr(char)
        bad_value = [("n", f"v{char}")] if char in CONTROLS else []
        for name, value in [(f"n{char}", "v"), *bad_value]:
            response = put(name, value)
            assert response.status_code == 400, (repr(char), response.text)
            assert response.json()["code"] == "paramError.appProperties"
        err = sdk_error(
            lambda c=char: st.add_folder(home.space_id, "x", app_properties=[(c, "v", "PUBLIC")])
        )
        assert (err.statusCode, err.code) == (400, "paramError.appProperties"), repr(char)
        response = st.raw(
            "POST", f"/spaces/{home.space_id}/dentries/{doc.id}/appProperties/remove",
            json={"propertyNames": [f"p{char}"]},
        )  # fmt: skip
        assert (response.status_code, response.json()["code"]) == (400, "paramError.propertyNames")
    assert st.raw_dentry(home.space_id, doc.id)["appProperties"] == before
    assert put("bidi", "\u202eok\u2028").status_code == 200  # a value is data, not a name
    assert {d["name"] for d in st.raw_children(home.space_id)} == {"home", "doc"}
