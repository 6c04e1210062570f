"""A thumbnail helper process (``sandbox.py`` starts it): render each file sent on stdin, answer
on stdout, until stdin closes. It imports ``rendering`` and what that needs, nothing else."""

from __future__ import annotations

import json
import resource
import struct
import sys

from dingstore.service.thumbnails import rendering

CRASHED = "crashed"  # the helper died or ran out of memory
REQUEST = struct.Struct(">QQ")  # max_pixels, length of the bytes that follow
REPLY = struct.Struct(">II")  # length of the JSON header, of the thumbnail, that follow


def _resident() -> int:
    """This process's resident set now, in bytes (its peak where /proc is not)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    """Cap the address space at ``argv[1]`` bytes, then serve files until stdin closes."""
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import PIL.Image  # noqa: F401  (imported once, before the first file)
    import pypdfium2  # noqa: F401

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = source.read(REQUEST.size)
        if len(head) < REQUEST.size:
            return
        max_pixels, size = REQUEST.unpack(head)
        data = source.read(size)
        try:
            outcome = rendering.render(data, max_pixels=max_pixels)
        except MemoryError:
            outcome = rendering.Outcome(reason=CRASHED)
        del data
        rss = _resident()
        meta = {
            "mediaType": outcome.media_type,
            "width": outcome.width,
            "height": outcome.height,
            "reason": outcome.reason,
            "rss": rss,
        }
        encoded = json.dumps(meta).encode()
        sink.write(REPLY.pack(len(encoded), len(outcome.data)) + encoded + outcome.data)
        sink.flush()
        if outcome.reason == CRASHED:
            return


if __name__ == "__main__":
    main()
