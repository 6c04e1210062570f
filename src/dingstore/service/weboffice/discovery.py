"""The office server's WOPI discovery: which file types it opens with which action, the URL of
each action (``urlsrc``), and the keys it signs its calls with (``proof-key``).

The XML is ``wopi-discovery / net-zone / app / action``; an action has a ``name`` (``edit``,
``view``, ...), an ``ext`` (Collabora also lists actions by MIME type: an ``app`` named by the
type, with an empty ``ext``) and a ``urlsrc``. Microsoft's ``urlsrc`` carries optional
parameters as placeholders, ``<ui=UI_LLCC&>``: dingstore fills none and drops them all, then
adds ``WOPISrc``. The XML is read with the standard library over HTTP(S) (one GET per
``ttl``, off the event loop) and parsed by expat, which expands no external entity and bounds
entity expansion; the document is bounded too (``MAX_BYTES``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
import re
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from dingstore import errors

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0
RETRY_S = 60.0  # after a failed fetch, the stale copy serves this long before the next try
# Preferred first: the zone a browser outside the office server's network uses.
ZONES = ("external-https", "external-http", "internal-https", "internal-http")
_PLACEHOLDER = re.compile(r"<[^<>]*>")


@dataclass(frozen=True, slots=True)
class ProofKey:
    modulus: int
    exponent: int


@dataclass(frozen=True, slots=True)
class Discovery:
    # (extension or MIME type, action name) -> urlsrc, in zone preference
    actions: dict[tuple[str, str], str] = field(default_factory=dict)
    proof_key: ProofKey | None = None
    old_proof_key: ProofKey | None = None

    @property
    def origins(self) -> frozenset[str]:
        """The origins (``scheme://host:port``) of the office server's actions."""
        return frozenset(origin(u) for u in self.actions.values())

    def urlsrc(self, name: str, actions: Sequence[str]) -> str | None:
        """The ``urlsrc`` of the first of ``actions`` the server offers for the file ``name``
        (by its extension, else by its MIME type), or None."""
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        mime = mimetypes.guess_type(name, strict=False)[0]
        for action in actions:
            for key in (ext, mime):
                found = self.actions.get((key, action)) if key else None
                if found:
                    return found
        return None


def parse(xml: bytes) -> Discovery:
    """The discovery document's actions and proof keys; ``ValueError`` if it is not one."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None
    if root.tag != "wopi-discovery":
        raise ValueError(f"the root element is {root.tag!r}, not 'wopi-discovery'")
    zones = sorted(
        root.findall("net-zone"),
        key=lambda z: ZONES.index(z.get("name", "")) if z.get("name") in ZONES else len(ZONES),
    )
    actions: dict[tuple[str, str], str] = {}
    for zone in zones:
        for app in zone.findall("app"):
            for action in app.findall("action"):
                name, urlsrc = action.get("name"), action.get("urlsrc")
                ext = (action.get("ext") or "").lower()
                key = ext or (app.get("name") or "").lower()
                if name and urlsrc and key:
                    actions.setdefault((key, name), urlsrc)
    proof = root.find("proof-key")
    current = old = None
    if proof is not None:
        current = _key(proof.get("modulus"), proof.get("exponent"))
        old = _key(proof.get("oldmodulus"), proof.get("oldexponent"))
    return Discovery(actions, current, old)


def origin(url: str) -> str:
    """``scheme://netloc`` of an http(s) URL, lower-cased; "" for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def _key(modulus: str | None, exponent: str | None) -> ProofKey | None:
    if not modulus or not exponent:
        return None
    return ProofKey(
        int.from_bytes(base64.b64decode(modulus), "big"),
        int.from_bytes(base64.b64decode(exponent), "big"),
    )


def editor_url(urlsrc: str, wopi_src: str) -> str:
    """The action's URL for the file at ``wopi_src``: placeholders dropped, ``WOPISrc`` added
    (the access token is not in it: the page opening the editor POSTs it)."""
    url = _PLACEHOLDER.sub("", urlsrc)
    separator = "" if url.endswith(("?", "&")) else ("&" if "?" in url else "?")
    return f"{url}{separator}WOPISrc={quote(wopi_src, safe='')}"


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/xml, text/xml"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
        body: bytes = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError(f"the discovery document is larger than {MAX_BYTES} bytes")
    return body


class DiscoveryCache:
    """The discovery of ``url``, read again every ``ttl`` seconds (``timer``: the clock's
    monotonic seconds). A failed read keeps serving the last good copy (retried after
    ``RETRY_S``); with none, the call answers 503."""

    def __init__(self, url: str, *, ttl: float, timer: Callable[[], float]) -> None:
        self.url = url
        self._ttl = ttl
        self._timer = timer
        self._value: Discovery | None = None
        self._due = 0.0
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Read the document again at the next call (a proof failed: the keys may have
        rotated)."""
        self._due = 0.0

    async def get(self) -> Discovery:
        if self._value is not None and self._timer() < self._due:
            return self._value
        async with self._lock:
            if self._value is not None and self._timer() < self._due:
                return self._value
            try:
                value = parse(await asyncio.to_thread(_fetch, self.url))
            except (OSError, ValueError) as exc:
                if self._value is None:
                    log.warning("cannot read the WOPI discovery at %s: %s", self.url, exc)
                    raise errors.STORE_UNAVAILABLE.error(
                        "the office server's discovery cannot be read; retry later"
                    ) from None
                log.warning("cannot read the WOPI discovery again (%s); keeping the last", exc)
                self._due = self._timer() + RETRY_S
                return self._value
            self._value, self._due = value, self._timer() + self._ttl
            return value
