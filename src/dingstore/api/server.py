"""uvicorn's server, accepting every connection that waits on the listening socket at once.

uvloop's libuv accepts one connection a loop turn (libuv 1.45, "don't accept() connections in
a loop"). Under load a turn of ours serves every ready request and takes tens of ms, so 200
clients that connect together wait seconds in the listen queue and time out. Here the
listening socket is ours: when it is readable, ``_accept`` takes up to ``ACCEPT_BATCH``
connections and hands each to the loop with uvicorn's protocol, as ``loop.create_server`` would.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn

log = logging.getLogger(__name__)

ACCEPT_BATCH = 256


class Server(uvicorn.Server):
    """``uvicorn.Server`` run on already bound sockets (``run(sockets=...)``) that it accepts
    from itself."""

    _listening: list[socket.socket]

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Listening before uvicorn reports ``started``: whoever waits on that flag (another
        # thread) may connect at once; until the reader is added, connections wait in the
        # backlog.
        self._listening = list(sockets or ())
        for sock in self._listening:
            sock.setblocking(False)
            sock.listen(self.config.backlog)
        # uvicorn runs the app's lifespan and serves no socket of its own.
        await super().startup(sockets=[])
        if not self.started:
            return
        loop = asyncio.get_running_loop()
        for sock in self._listening:
            loop.add_reader(sock.fileno(), self._accept, loop, sock)

    def _protocol(self) -> asyncio.Protocol:
        config = self.config
        protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol

    def _accept(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again next turn
                log.warning("accept failed: %s", exc)
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            loop.create_task(self._connect(loop, conn))

    async def _connect(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(self._protocol, conn)
        except OSError as exc:  # the client left before its transport was made
            log.debug("connection dropped on accept: %s", exc)
            conn.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        for sock in getattr(self, "_listening", ()):
            loop.remove_reader(sock.fileno())
        # Before uvicorn closes every connection (a WebSocket with 1012, which the Stream SDK
        # answers by waiting 10 s) and waits for the requests in flight: the app's ``drain``
        # (api/app.py) tells its Stream clients to disconnect, takes their last acks and lets
        # them go, and has the events feed's long-polls answer at once.
        drain = getattr(getattr(self.config.app, "state", None), "drain", None)
        if drain is not None:
            try:
                await drain()
            except Exception:
                log.exception("draining the Stream connections failed")
        await super().shutdown(sockets=sockets)
