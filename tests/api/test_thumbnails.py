"""GetDentryThumbnails (spec §6 K op 43) through the official SDK: thumbnails made by the task
workers after CommitFile, for images and PDFs, served at signed URLs; the per-item codes of a
file that has none (yet); the limits a hostile file meets; versions, copies and purges."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from dingstore.store.schema import tasks, thumbnails
from tests.conftest import new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage

RED, BLUE = (220, 20, 20), (20, 20, 220)


def image_bytes(size: tuple[int, int], fmt: str, color: object = RED, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)  # type: ignore[arg-type]
    return out.getvalue()


def pdf_bytes() -> bytes:
    """Two A4 pages (at 100 dpi): a red first page, a blue second."""
    out = io.BytesIO()
    first, second = Image.new("RGB", (827, 1169), RED), Image.new("RGB", (827, 1169), BLUE)
    first.save(out, "PDF", save_all=True, append_images=[second], resolution=100)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG declaring ``width`` x ``height`` pixels in a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    rows = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def fetch(url: str) -> Image.Image:
    """GET a thumbnail URL as a browser's <img> would: no header at all."""
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] in ("image/jpeg", "image/png")
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def color_of(image: Image.Image) -> tuple[int, ...]:
    pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


def near(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(abs(x - y) < 40 for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("name", "data", "expected", "media"),
    [
        ("photo.jpg", image_bytes((1200, 800), "JPEG"), (256, 171), "image/jpeg"),
        (
            "icon.png",
            image_bytes((300, 600), "PNG", (220, 20, 20, 128), "RGBA"),
            (128, 256),
            "image/png",
        ),
        ("anim.gif", image_bytes((64, 32), "GIF"), (64, 32), "image/jpeg"),
        ("pic.webp", image_bytes((512, 512), "WEBP"), (256, 256), "image/jpeg"),
        ("scan.tiff", image_bytes((1000, 250), "TIFF"), (256, 64), "image/jpeg"),
        ("old.bmp", image_bytes((260, 100), "BMP"), (256, 98), "image/jpeg"),
        ("report.pdf", pdf_bytes(), (182, 256), "image/jpeg"),
    ],
)
def test_a_thumbnail_is_made_after_upload_and_served_at_a_signed_url(
    st: Storage, name: str, data: bytes, expected: tuple[int, int], media: str
) -> None:
    space = st.new_space()
    file = st.upload(space.id, data, name)
    item = st.wait_thumbnail(space.id, file.id)
    assert (item.success, item.error_code, item.space_id, item.dentry_id) == (
        True,
        None,
        space.id,
        file.id,
    )
    assert (item.thumbnail.width, item.thumbnail.height) == expected
    image = fetch(item.thumbnail.url)
    assert image.size == expected
    assert Image.MIME[image.format or ""] == media
    assert near(color_of(image), RED)  # a PDF's first page, red; not its blue second
    if "x-dingstore-signature=" in item.thumbnail.url:  # dingstore's data plane checks it
        url = item.thumbnail.url
        assert httpx.get(url[:-1] + ("1" if url[-1] == "0" else "0")).status_code == 403


def test_what_has_no_thumbnail_says_why(st: Storage) -> None:
    space = st.new_space()
    text = st.upload(space.id, b"just text", "notes.txt")
    folder = st.add_folder(space.id, "pictures")
    fake = st.upload(space.id, b"not an image at all", "fake.png")
    bomb = st.upload(space.id, png_bomb(100_000, 100_000), "bomb.png")
    empty = st.upload(space.id, b"", "empty.jpg")
    ids = [text.id, folder.id, "424242", empty.id]
    codes = [(i.dentry_id, i.success, i.error_code) for i in st.thumbnails(space.id, ids)]
    assert codes == [
        (text.id, False, "dentryFormatNotSupport"),
        (folder.id, False, "dentryFormatNotSupport"),
        ("424242", False, "dentryNotExist"),
        (empty.id, False, "dentryFormatNotSupport"),
    ]
    # Content that is no image, and a decompression bomb: refused by the renderer, for good.
    for file in (fake, bomb):
        item = st.wait_thumbnail(space.id, file.id)
        assert (item.success, item.error_code, item.thumbnail) == (
            False,
            "dentryFormatNotSupport",
            None,
        )


def test_request_level_errors(st: Storage) -> None:
    space = st.new_space()
    assert sdk_error(lambda: st.thumbnails(space.id, [])).code == "paramError.dentryIds"
    many = [str(n) for n in range(1, 32)]
    assert sdk_error(lambda: st.thumbnails(space.id, many)).code == "paramError.dentryIds"
    assert sdk_error(lambda: st.thumbnails(space.id, ["x"])).code == "paramError.dentryIds"
    assert sdk_error(lambda: st.thumbnails("999999", ["1"])).code == "spaceNotExist"
    bad_space = sdk_error(lambda: st.thumbnails("not-a-space", ["1"]))
    assert (bad_space.code, bad_space.statusCode) == ("paramError.spaceId", 400)
    # The limit itself is allowed: 30 ids answer 30 items, in order.
    thirty = [str(n) for n in range(1, 31)]
    items = st.thumbnails(space.id, thirty)
    assert [(i.dentry_id, i.error_code) for i in items] == [(n, "dentryNotExist") for n in thirty]


def test_readers_see_thumbnails_others_do_not(st: Storage, server: LiveServer) -> None:
    bob = server.run(server.services.identity.create_user(st_corp(st), "bob")).union_id
    space = st.new_space()
    folder = st.add_folder(space.id, "shared")
    file = st.upload(space.id, image_bytes((100, 100), "PNG"), "a.png", parent_id=folder.id)
    assert st.wait_thumbnail(space.id, file.id).success
    (item,) = st.as_user(bob).thumbnails(space.id, [file.id])
    assert (item.success, item.error_code) == (False, "permissionDenied")
    st.add_permission(space.id, folder.id, "READER", [("USER", bob)])
    (item,) = st.as_user(bob).thumbnails(space.id, [file.id])
    assert item.success and item.thumbnail.width == 100


def st_corp(st: Storage) -> str:
    return st.actor().corp_id


def test_a_new_version_gets_a_new_thumbnail_a_revert_its_old_one(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, image_bytes((400, 200), "JPEG", RED), "v.jpg")
    first = st.wait_thumbnail(space.id, file.id).thumbnail
    assert near(color_of(fetch(first.url)), RED)
    st.upload(
        space.id, image_bytes((200, 400), "JPEG", BLUE), "v.jpg", conflict_strategy="OVERWRITE"
    )
    second = st.wait_thumbnail(space.id, file.id).thumbnail
    assert (second.width, second.height) == (128, 256)
    assert near(color_of(fetch(second.url)), BLUE)
    st.revert(space.id, file.id, 1)
    (item,) = st.thumbnails(space.id, [file.id])  # version 1's content has its thumbnail already
    assert item.success and (item.thumbnail.width, item.thumbnail.height) == (256, 128)
    assert near(color_of(fetch(item.thumbnail.url)), RED)


def test_pending_until_a_worker_makes_it_and_its_task_is_not_users(
    make_server: Callable[..., LiveServer],
) -> None:
    idle = make_server(workers=0)
    sdk = Sdk(idle.endpoint)
    st = Storage.of(idle, sdk, new_tenant(idle, sdk))
    space = st.new_space()
    file = st.upload(space.id, image_bytes((300, 300), "JPEG"), "wait.jpg")
    (item,) = st.thumbnails(space.id, [file.id])
    assert (item.success, item.error_code, item.thumbnail) == (False, "thumbnailNotExist", None)
    (task_id,) = [
        row.id for row in query(idle, sa.select(tasks.c.id).where(tasks.c.kind == "thumbnail"))
    ]
    assert sdk_error(lambda: st.get_task(str(task_id))).code == "taskNotExist"

    make_server()  # a process with workers, on the same store, makes it
    assert st.wait_thumbnail(space.id, file.id).thumbnail.width == 256
    idle.run(idle.services.housekeeper.sweep())  # an internal task goes once it ended
    assert query(idle, sa.select(tasks.c.id).where(tasks.c.id == task_id)) == []


def query(
    server: LiveServer, statement: sa.Select[tuple[int]] | sa.Select[tuple[int, str]]
) -> list[sa.Row[tuple[int]]]:

    async def read() -> list[sa.Row[tuple[int]]]:
        async with server.services.db.read() as conn:
            return list((await conn.execute(statement)).all())

    return server.run(read())


def test_copies_share_thumbnails_and_a_purge_deletes_them(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(blob_grace=0)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space, other = st.new_space(), st.new_space()
    file = st.upload(space.id, image_bytes((256, 256), "PNG"), "c.png")
    made = st.wait_thumbnail(space.id, file.id).thumbnail
    copy = st.copy(space.id, file.id, other.id).dentry
    (shared,) = st.thumbnails(other.id, [copy.id])
    assert shared.success and fetch(shared.thumbnail.url).size == (made.width, made.height)
    key = http_key(made.url)
    assert exists(server, key)

    st.delete(space.id, file.id)
    server.run(server.services.housekeeper.sweep())
    assert exists(server, key)  # the copy's content still has it
    st.delete(other.id, copy.id)
    server.run(server.services.housekeeper.sweep())
    assert not exists(server, key)
    assert query(server, sa.select(thumbnails.c.source_blob_id)) == []


def http_key(url: str) -> str:
    """The blob-store key a thumbnail URL serves (either store's URL ends with it)."""
    path = httpx.URL(url).path
    return path[path.index("thumbnails/") :]


def exists(server: LiveServer, key: str) -> bool:
    return server.run(server.services.blobs.size(key)) is not None


def test_with_thumbnail_the_dentry_reads_carry_it(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, image_bytes((512, 256), "JPEG"), "w.jpg")
    text = st.upload(space.id, b"text", "w.txt")
    made = st.wait_thumbnail(space.id, file.id).thumbnail
    assert st.get_dentry(space.id, file.id).thumbnail is None  # only when asked
    got = st.get_dentry(space.id, file.id, with_thumbnail=True).thumbnail
    assert (got.width, got.height) == (made.width, made.height) == (256, 128)
    assert fetch(got.url).size == (256, 128)
    items = st.get_dentries(space.id, [file.id, text.id], with_thumbnail=True)
    assert [i.dentry.thumbnail is not None for i in items] == [True, False]
    listed = st.list_dentries(space.id, with_thumbnail=True)
    assert {d.name: d.thumbnail is not None for d in listed} == {"w.jpg": True, "w.txt": False}
    every = st.list_all(space.id, with_thumbnail=True)
    assert {d.name: d.thumbnail is not None for d in every} == {"w.jpg": True, "w.txt": False}
    assert all(d.thumbnail is None for d in st.list_all(space.id))
