"""The thumbnail renderer and its sandbox, without a server: what a hostile file meets."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from dingstore.service.thumbnails import rendering, sandbox
from tests.api.test_thumbnails import image_bytes, pdf_bytes, png_bomb

LIMITS = sandbox.Limits(max_bytes=2**26, max_pixels=50_000_000, memory=1536 * 2**20, timeout=20)


def test_images_fit_the_box_keeping_their_aspect() -> None:
    made = rendering.render(image_bytes((4000, 3000), "JPEG"), max_pixels=LIMITS.max_pixels)
    assert (made.width, made.height, made.media_type, made.reason) == (256, 192, "image/jpeg", None)
    assert Image.open(io.BytesIO(made.data)).size == (256, 192)
    small = rendering.render(image_bytes((10, 20), "PNG"), max_pixels=LIMITS.max_pixels)
    assert (small.width, small.height) == (10, 20)  # never enlarged


def test_only_the_promised_formats_are_opened() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "PCX")  # Pillow reads it; thumbnails do not
    assert rendering.render(out.getvalue(), max_pixels=100).reason == rendering.NOT_AN_IMAGE
    assert rendering.render(b"%PDF-1.4 broken", max_pixels=100).reason == rendering.UNREADABLE
    assert rendering.render(pdf_bytes()[:200], max_pixels=100).reason == rendering.UNREADABLE


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb(100_000, 100_000)
    assert len(bomb) < 100
    assert rendering.render(bomb, max_pixels=50_000_000).reason == rendering.TOO_MANY_PIXELS
    honest = image_bytes((3000, 2000), "PNG")
    assert rendering.render(honest, max_pixels=5_000_000).reason == rendering.TOO_MANY_PIXELS


def test_names_decide_what_is_tried() -> None:
    assert rendering.supported("a.JPG") and rendering.supported("x.tar.pdf")
    assert not rendering.supported("a.txt")
    assert not rendering.supported("png")
    assert not rendering.supported(".png")


async def test_the_sandbox_bounds_memory_and_time() -> None:
    box = sandbox.Sandbox(LIMITS, concurrency=1)
    try:
        made = await box.render(image_bytes((800, 600), "WEBP"))
        assert (made.width, made.height) == (256, 192)
        # Too little address space for a 24 MP WebP decode: the helper fails, the caller does not.
        tight = sandbox.Sandbox(
            sandbox.Limits(2**26, 50_000_000, memory=256 * 2**20, timeout=20), concurrency=1
        )
        try:
            big = image_bytes((6000, 4000), "WEBP")
            assert (await tight.render(big)).reason == sandbox.CRASHED
            assert (await tight.render(image_bytes((50, 50), "PNG"))).width == 50  # a new helper
        finally:
            await tight.close()
        slow = sandbox.Sandbox(
            sandbox.Limits(2**26, 50_000_000, memory=LIMITS.memory, timeout=0.001), concurrency=1
        )
        try:
            assert (await slow.render(image_bytes((4000, 3000), "PNG"))).reason == sandbox.TIMED_OUT
        finally:
            await slow.close()
    finally:
        await box.close()
    await asyncio.sleep(0)
