"""The app-level permission scopes of storage 1.0 (spec §1.13)."""

from __future__ import annotations

ALL: tuple[str, ...] = (
    "Storage.Org.Read",
    "Storage.App.Read",
    "Storage.Space.Read",
    "Storage.Space.Write",
    "Storage.File.Read",
    "Storage.File.Write",
    "Storage.UploadInfo.Read",
    "Storage.DownloadInfo.Read",
    "Storage.Permission.Read",
    "Storage.Permission.Write",
    "Storage.RecycleBin.Read",
    "Storage.RecycleBin.Write",
    "Storage.Task.Read",
    "Storage.Event.Write",
)


def parse(text: str | None) -> tuple[str, ...]:
    """``"A,B"`` → ``("A", "B")``; ``None`` or empty → every scope. Unknown names are refused."""
    if not text:
        return ALL
    names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}; known: {', '.join(ALL)}")
    return names
