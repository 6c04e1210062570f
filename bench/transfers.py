"""Uploads and downloads as a DingTalk SDK user makes them, and the same bytes to and from the
nginx floor, all through one ``rawhttp.Connection`` each (``files.py``, ``small_files.py``).

An upload through dingstore is three requests: GetFileUploadInfo, the PUT of the bytes to
``headerSignatureInfo.resourceUrls[0]`` with exactly the signed headers, and CommitFile. A
download is GetFileDownloadInfo and the GET. The floor's upload is one PUT, its download one GET.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import rawhttp
from common import TOKEN_HEADER, BenchError, Tenant

# A body: bytes in memory, or a file and its size (sent with sendfile).
Body = bytes | tuple[Path, int]
Sink = Callable[[memoryview], object]


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _size(body: Body) -> int:
    return len(body) if isinstance(body, bytes) else body[1]


def _send(
    conn: rawhttp.Connection, method: str, target: str, body: Body, headers: dict[str, str]
) -> rawhttp.Response:
    if isinstance(body, bytes):
        return conn.request(method, target, headers=headers, body=body)
    return conn.request(method, target, headers=headers, upload=body)


class Api:
    """The storage API calls the transfer benchmarks make, for the tenant's admin in one space;
    any answer but 200 is a :class:`BenchError`."""

    def __init__(self, base_url: str, tenant: Tenant, space_id: int) -> None:
        self.conn = rawhttp.Connection(base_url, {TOKEN_HEADER: tenant.token})
        # Seconds each of the three requests of every upload took, in order.
        self.steps: dict[str, list[float]] = {"GetFileUploadInfo": [], "PUT": [], "CommitFile": []}
        self.query = {"unionId": tenant.union_id}
        self.space = f"/v1.0/storage/spaces/{space_id}"

    def close(self) -> None:
        self.conn.close()

    def call(self, method: str, path: str, json_body: Any = None) -> dict[str, Any]:
        response = self.conn.request(method, path, params=self.query, json_body=json_body)
        if response.status != 200:
            raise BenchError(f"{method} {path} answered {response.status}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    def upload_info(self) -> dict[str, Any]:
        body = {"protocol": "HEADER_SIGNATURE", "multipart": False}
        return self.call("POST", f"{self.space}/files/uploadInfos/query", body)

    def commit(self, upload_key: str, name: str, parent_id: int = 0) -> dict[str, Any]:
        body = {"uploadKey": upload_key, "name": name, "parentId": str(parent_id)}
        dentry: dict[str, Any] = self.call("POST", f"{self.space}/files/commit", body)["dentry"]
        return dentry

    def download_info(self, dentry_id: str) -> dict[str, Any]:
        return self.call("POST", f"{self.space}/dentries/{dentry_id}/downloadInfos/query", {})

    def list_page(self, parent_id: int, page_size: int, token: str | None) -> rawhttp.Response:
        params = {**self.query, "parentId": str(parent_id), "maxResults": str(page_size)}
        if token is not None:
            params["nextToken"] = token
        return self.conn.request("GET", f"{self.space}/dentries", params=params)

    def put(self, signed: dict[str, Any], body: Body) -> None:
        url = signed["resourceUrls"][0]
        response = _send(self.conn, "PUT", _target(url), body, signed["headers"])
        if response.status != 200:
            raise BenchError(f"PUT {url} answered {response.status}: {response.text}")

    def get(self, signed: dict[str, Any], sink: Sink) -> int:
        url = signed["resourceUrls"][0]
        response = self.conn.request("GET", _target(url), headers=signed["headers"], sink=sink)
        if response.status != 200:
            raise BenchError(f"GET {url} answered {response.status}")
        return response.length

    def upload(self, body: Body, name: str, parent_id: int = 0) -> tuple[float, dict[str, Any]]:
        """Seconds for the whole upload (three requests); the new file's dentry."""
        started = time.perf_counter()
        info = self.upload_info()
        informed = time.perf_counter()
        self.put(info["headerSignatureInfo"], body)
        put = time.perf_counter()
        dentry = self.commit(info["uploadKey"], name, parent_id)
        ended = time.perf_counter()
        for step, seconds in zip(
            self.steps, (informed - started, put - informed, ended - put), strict=True
        ):
            self.steps[step].append(seconds)
        elapsed = ended - started
        if int(dentry["size"]) != _size(body):
            raise BenchError(f"CommitFile recorded {dentry['size']} bytes, not {_size(body)}")
        return elapsed, dentry

    def download(self, dentry_id: str, sink: Sink, size: int) -> float:
        """Seconds for the whole download (two requests), its body into ``sink``."""
        started = time.perf_counter()
        info = self.download_info(dentry_id)
        received = self.get(info["headerSignatureInfo"], sink)
        elapsed = time.perf_counter() - started
        if received != size:
            raise BenchError(f"the download of {dentry_id} brought {received} bytes, not {size}")
        return elapsed


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Floor:
    """The same bytes to and from nginx (serving ``root``): one PUT, one GET."""

    def __init__(self, base_url: str, root: Path) -> None:
        self.conn = rawhttp.Connection(base_url)
        self.root = root

    def close(self) -> None:
        self.conn.close()

    def upload(self, body: Body, path: str) -> float:
        started = time.perf_counter()
        response = _send(self.conn, "PUT", path, body, {})
        elapsed = time.perf_counter() - started
        if response.status not in (201, 204):
            raise BenchError(f"nginx answered PUT {path} with {response.status}: {response.text}")
        return elapsed

    def sync(self, path: str) -> None:
        """fsync what nginx took at ``path`` (it does not), untimed: a step after it must not
        pay for its writeback."""
        fsync_path(self.root / path.lstrip("/"))

    def download(self, path: str, sink: Sink, size: int) -> float:
        started = time.perf_counter()
        response = self.conn.request("GET", path, sink=sink)
        elapsed = time.perf_counter() - started
        if response.status != 200 or response.length != size:
            raise BenchError(f"nginx answered GET {path} with {response.status}")
        return elapsed
