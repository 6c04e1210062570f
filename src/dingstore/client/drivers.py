"""What runs a flow (``flows.py``): one driver per kind of I/O. Each carries out the steps and
nothing else; the logic of every operation is in the flows both share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import httpx

from dingstore.client import flows
from dingstore.client.errors import DingstoreError

T = TypeVar("T")
R = TypeVar("R")


def _request(
    http: httpx.Client | httpx.AsyncClient, step: flows.Exchange, body: Any
) -> dict[str, Any]:
    """The arguments of ``http.stream`` for ``step``."""
    headers = dict(step.headers or {})
    if step.source is not None:
        headers["content-length"] = str(step.source.length)
    timeout: Any = httpx.USE_CLIENT_DEFAULT
    if step.timeout is not None:
        timeout = httpx.Timeout(http.timeout.connect, read=step.timeout, write=None, pool=None)
    return {
        "method": step.method,
        "url": step.url,
        "params": step.params,
        "headers": headers,
        "content": body,
        "timeout": timeout,
    }


def _reply(response: httpx.Response, body: bytes) -> flows.Reply:
    return flows.Reply(
        response.status_code, {k.lower(): v for k, v in response.headers.items()}, body
    )


def _connection_error(err: httpx.HTTPError, step: flows.Exchange) -> DingstoreError:
    return DingstoreError("connectionError", f"{step.method} {step.url}: {err!r}")


class SyncDriver:
    """Runs flows on a blocking ``httpx.Client``; ``Parallel`` steps on threads."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def run(self, flow: flows.Flow[T], then: Callable[[T], R] | None = None) -> Any:
        """Run ``flow`` to its end; its result, passed through ``then`` if given."""
        running = flows.Running(flow)
        while (step := running.next()) is not None:
            try:
                running.give(self._step(step))
            except DingstoreError as error:
                running.fail(error)
        return running.result if then is None else then(cast(T, running.result))

    def iterate(self, pages: flows.Pages[T]) -> Iterator[T]:
        """The items of every page of a listing, fetching each page when the last is used."""
        token: str | None = ""
        while token is not None:
            page: flows.Page[T] = self.run(pages(token or None))
            yield from page.items
            token = page.next

    def close(self) -> None:
        self.http.close()

    def _step(self, step: flows.Step) -> Any:
        if isinstance(step, flows.Exchange):
            return self._exchange(step)
        if isinstance(step, flows.Parallel):
            if len(step.flows) <= 1 or step.limit <= 1:
                return [self.run(flow) for flow in step.flows]
            with ThreadPoolExecutor(min(step.limit, len(step.flows))) as pool:
                return list(pool.map(self.run, step.flows))
        time.sleep(step.seconds)
        return None

    def _exchange(self, step: flows.Exchange) -> flows.Reply:
        body = step.source.chunks() if step.source is not None else step.content
        try:
            with self.http.stream(**_request(self.http, step, body)) as response:
                if step.sink is None or not response.is_success:
                    return _reply(response, response.read())
                writer = flows.Writer(step.sink, response.headers.get("content-length"))
                try:
                    for chunk in response.iter_bytes(flows.CHUNK):
                        writer.write(chunk)
                finally:
                    writer.close()
                return _reply(response, b"")
        except httpx.HTTPError as err:
            raise _connection_error(err, step) from err


class AsyncDriver:
    """Runs flows on an ``httpx.AsyncClient``; ``Parallel`` steps as asyncio tasks."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def run(self, flow: flows.Flow[T], then: Callable[[T], R] | None = None) -> Any:
        """Run ``flow`` to its end; its result, passed through ``then`` if given."""
        running = flows.Running(flow)
        while (step := running.next()) is not None:
            try:
                running.give(await self._step(step))
            except DingstoreError as error:
                running.fail(error)
        return running.result if then is None else then(cast(T, running.result))

    async def iterate(self, pages: flows.Pages[T]) -> AsyncIterator[T]:
        """The items of every page of a listing, fetching each page when the last is used."""
        token: str | None = ""
        while token is not None:
            page: flows.Page[T] = await self.run(pages(token or None))
            for item in page.items:
                yield item
            token = page.next

    async def close(self) -> None:
        await self.http.aclose()

    async def _step(self, step: flows.Step) -> Any:
        if isinstance(step, flows.Exchange):
            return await self._exchange(step)
        if isinstance(step, flows.Parallel):
            gate = asyncio.Semaphore(max(1, step.limit))

            async def one(flow: flows.Flow[Any]) -> Any:
                async with gate:
                    return await self.run(flow)

            return list(await asyncio.gather(*(one(flow) for flow in step.flows)))
        await asyncio.sleep(step.seconds)
        return None

    async def _exchange(self, step: flows.Exchange) -> flows.Reply:
        body = step.content if step.source is None else _aiter(step.source.chunks())
        try:
            async with self.http.stream(**_request(self.http, step, body)) as response:
                if step.sink is None or not response.is_success:
                    return _reply(response, await response.aread())
                writer = flows.Writer(step.sink, response.headers.get("content-length"))
                try:
                    async for chunk in response.aiter_bytes(flows.CHUNK):
                        writer.write(chunk)
                finally:
                    writer.close()
                return _reply(response, b"")
        except httpx.HTTPError as err:
            raise _connection_error(err, step) from err


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
