"""Uploads and downloads (spec §6 D): the API call that hands out a signed URL, then the bytes
straight to or from that URL (dingstore's own data plane, or S3's pre-signed URLs), never
through the API's JSON."""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path
from typing import Any

from dingstore.client import errors, flows, models, session
from dingstore.client.bind import operation
from dingstore.client.dentries import Dentries, dentry_path
from dingstore.client.session import check
from dingstore.client.spaces import Base

PARTS_PER_CALL = 30
"""Part numbers GetMultipartFileUploadInfos hands out in one call."""
MAX_PARTS = 10_000
SINGLE_PUT_MAX = 5 * 1024**3
"""Above 5 GB a file must go in parts (spec 14), whatever ``multipart_threshold`` says."""


def part_size_for(size: int, part_size: int) -> int:
    """The size of the parts ``upload`` sends a file of ``size`` bytes in: ``part_size``, or
    more when the file would otherwise need over ``MAX_PARTS`` parts."""
    return max(part_size, math.ceil(size / MAX_PARTS))


class Transfers(Base):
    @operation
    def upload(
        self,
        source: str | os.PathLike[str] | bytes,
        folder: models.Target,
        name: str | None = None,
        *,
        conflict: models.Conflict = "AUTO_RENAME",
        overwrite: models.Target | None = None,
        progress: flows.Progress | None = None,
        idempotency_key: str | None = None,
    ) -> flows.Flow[models.Dentry]:
        """Upload a local file (a path) or ``bytes`` into ``folder`` as ``name`` (default: the
        file's name; required for bytes) and return the new file. ``conflict`` says what
        happens when the name is taken (``OVERWRITE``: a new version of that file);
        ``overwrite``, a file, makes the upload its new version whatever its name.

        Files of ``multipart_threshold`` bytes or more (a ``Client`` setting) go in parts,
        ``parallel`` at a time. ``progress(done, total)`` is called as bytes are sent (from
        several threads at once, with ``Client``, for parallel parts). The commit carries
        ``idempotency_key`` (a random one if None), so it is made again safely after a lost
        connection."""
        node = models.node(folder)
        if isinstance(source, bytes):
            if name is None:
                raise ValueError("upload of bytes needs a name")
            data: bytes | Path = source
            size = len(source)
        else:
            data = Path(source)
            size = data.stat().st_size
            name = name if name is not None else data.name
        meter = flows.Meter(size, progress)
        settings = self._session.transfers
        spaces = f"/v1.0/storage/spaces/{node.space_id}"
        check_param: dict[str, Any] = {"size": size, "parentId": node.id, "name": name}
        multipart = size >= settings.multipart_threshold or size > SINGLE_PUT_MAX
        if multipart:  # the documented multipart flow (spec 16-17), not uploadInfos' flag
            answer = yield from self._session.call(
                "POST",
                f"{spaces}/files/multiPartUploadInfos/init",
                body={"option": {"storageDriver": "DINGTALK", "preCheckParam": check_param}},
            )
        else:
            answer = yield from self._session.call(
                "POST",
                f"{spaces}/files/uploadInfos/query",
                body={
                    "protocol": "HEADER_SIGNATURE",
                    "multipart": False,
                    "option": {"preCheckParam": check_param},
                },
            )
        key = str(answer["uploadKey"])
        if multipart:
            yield from self._send_parts(key, data, size, meter)
        else:
            target = answer["headerSignatureInfo"]
            yield from _send(target, flows.Source(data, 0, size, meter), once=True)
        commit: dict[str, Any] = {
            "uploadKey": key,
            "name": name,
            "parentId": node.id,
            "option": {"size": size, "conflictStrategy": conflict},
        }
        if overwrite is not None:
            commit["overwriteDentryId"] = models.node(overwrite).id
        answer = yield from self._session.call(
            "POST",
            f"{spaces}/files/commit",
            body=commit,
            idempotency_key=idempotency_key or uuid.uuid4().hex,
        )
        return models.read(models.Dentry, answer["dentry"])

    def _send_parts(
        self, key: str, data: bytes | Path, size: int, meter: flows.Meter
    ) -> flows.Flow[None]:
        """PUT the parts of ``data``, asking for the URLs of 30 parts at a time, just before
        they are sent (the URLs expire)."""
        settings = self._session.transfers
        part_size = part_size_for(size, settings.part_size)
        count = max(1, math.ceil(size / part_size))
        for first in range(1, count + 1, PARTS_PER_CALL):
            numbers = list(range(first, min(count, first + PARTS_PER_CALL - 1) + 1))
            answer = yield from self._session.call(
                "POST",
                "/v1.0/storage/spaces/files/multiPartUploadInfos/query",
                body={"uploadKey": key, "partNumbers": numbers},
            )
            puts = []
            for info in answer["multipartHeaderSignatureInfos"]:
                offset = (int(info["partNumber"]) - 1) * part_size
                source = flows.Source(data, offset, min(part_size, size - offset), meter)
                puts.append(_send(info["headerSignatureInfo"], source))
            yield flows.Parallel(puts, settings.parallel)

    @operation
    def download(
        self,
        target: models.Target,
        destination: str | os.PathLike[str],
        *,
        version: int | None = None,
        progress: flows.Progress | None = None,
    ) -> flows.Flow[Path]:
        """Download the file ``target`` (its ``version``, default the current one) to the
        local path ``destination`` (a directory: the file's name in it) and return the path
        written. The bytes go to ``<name>.part`` first, renamed when complete, so nothing
        half-written ever has the final name. ``progress(done, total)`` as bytes arrive."""
        path = Path(destination)
        if path.is_dir():
            dentry = yield from Dentries.get.flow(self, target)
            path = path / dentry.name
        partial = path.with_name(path.name + ".part")
        signature = yield from self._download_info(target, version)
        meter = flows.Meter(0, progress)
        try:
            yield from _transfer(_get(signature, flows.Sink(partial, meter)))
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    @operation
    def read(self, target: models.Target, *, version: int | None = None) -> flows.Flow[bytes]:
        """The bytes of the file ``target`` (its ``version``, default the current one), in
        memory: for small files; ``download`` streams to disk."""
        signature = yield from self._download_info(target, version)
        reply = yield from _transfer(_get(signature, None))
        return reply.body

    @operation
    def checksum(self, target: models.Target) -> flows.Flow[str | None]:
        """The ETag of the file ``target``'s current bytes, without downloading them (a
        one-byte ranged GET): the hex MD5 of a file sent in one PUT, ``"<MD5 of the parts'
        MD5s>-N"`` for one sent in N parts (``upload``'s parts are ``part_size`` bytes, or
        ``ceil(size / 10000)`` when larger); None when the store kept none."""
        signature = yield from self._download_info(target, None)
        headers = {**(signature.get("headers") or {}), "range": "bytes=0-0"}
        reply = yield from _transfer(
            flows.Exchange("GET", signature["resourceUrls"][0], headers=headers)
        )
        etag = reply.headers.get("etag")
        return etag.strip('"') if etag else None

    def _download_info(
        self, target: models.Target, version: int | None
    ) -> flows.Flow[dict[str, Any]]:
        option = {} if version is None else {"version": version}
        answer = yield from self._session.call(
            "POST",
            dentry_path(models.node(target), "/downloadInfos/query"),
            body={"option": option},
        )
        return dict(answer["headerSignatureInfo"])


def _put(signature: dict[str, Any], source: flows.Source) -> flows.Exchange:
    """The PUT of ``source`` to a signed upload URL, with exactly the headers given (no
    Content-Type of our own: it would break the signature)."""
    return flows.Exchange(
        "PUT", signature["resourceUrls"][0], headers=signature.get("headers") or {}, source=source
    )


def _send(
    signature: dict[str, Any], source: flows.Source, *, once: bool = False
) -> flows.Flow[None]:
    """PUT ``source`` (a part, or with ``once`` a whole file, whose URL takes bytes once)."""
    yield from _transfer(_put(signature, source), once=once)


def _transfer(exchange: flows.Exchange, *, once: bool = False) -> flows.Flow[flows.Reply]:
    """``exchange`` with the data plane, made again (``session.ATTEMPTS`` in all) after a lost
    connection or a 5xx: a GET reads the same bytes, a part PUT replaces the part. An upload
    URL takes its bytes once (``once``): a repeat refused as already stored (409
    ``FileAlreadyExists``, S3's 412) means the lost attempt stored them."""
    for attempt in range(1, session.ATTEMPTS + 1):
        last = attempt == session.ATTEMPTS
        try:
            reply = yield exchange
        except errors.DingstoreError:
            if last:
                raise
            yield flows.Sleep(session.RETRY_PAUSE * attempt)
            continue
        if once and attempt > 1 and reply.status in (409, 412):
            return reply
        if reply.status >= 500 and not last:
            yield flows.Sleep(session.RETRY_PAUSE * attempt)
            continue
        return check(reply)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _get(signature: dict[str, Any], sink: flows.Sink | None) -> flows.Exchange:
    return flows.Exchange(
        "GET", signature["resourceUrls"][0], headers=signature.get("headers") or {}, sink=sink
    )
