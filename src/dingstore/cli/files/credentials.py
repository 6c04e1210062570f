"""Who the file commands act as: an endpoint, an app's key and secret, and the operator's
unionId, from ``DINGSTORE_*`` variables over a profile that ``dingstore login`` wrote.

Profiles live in one JSON file, ``$DINGSTORE_CONFIG`` or
``$XDG_CONFIG_HOME/dingstore/profiles.json`` (``~/.config/...``), readable by its owner only
(0600, in a 0700 directory): it holds app secrets. Each variable that is set wins over the
profile's field, so a script can override one value of a saved login.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULT_PROFILE = "default"

ENV = {
    "endpoint": "DINGSTORE_ENDPOINT",
    "app_key": "DINGSTORE_APP_KEY",
    "app_secret": "DINGSTORE_APP_SECRET",
    "union_id": "DINGSTORE_UNION_ID",
}


class MissingCredentials(Exception):
    """Some of the four values are set nowhere; the message names them and where to set them."""


@dataclass(frozen=True)
class Credentials:
    endpoint: str
    app_key: str
    app_secret: str
    union_id: str

    @property
    def base_url(self) -> str:
        """``endpoint`` as a URL: ``host:port`` means plain HTTP, as the SDK's ``Config`` does."""
        if "://" in self.endpoint:
            return self.endpoint.rstrip("/")
        return f"http://{self.endpoint}"


def config_path() -> Path:
    if explicit := os.environ.get("DINGSTORE_CONFIG"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dingstore" / "profiles.json"


def _profiles(path: Path) -> dict[str, dict[str, str]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    found = json.loads(text) if text.strip() else {}
    if not isinstance(found, dict):
        raise ValueError(f"{path} does not hold a JSON object of profiles")
    return found


def resolve(profile: str | None = None) -> Credentials:
    """The credentials to use: each ``DINGSTORE_*`` variable over the profile's value (profile
    ``profile``, else ``$DINGSTORE_PROFILE``, else ``default``)."""
    name = profile or os.environ.get("DINGSTORE_PROFILE") or DEFAULT_PROFILE
    path = config_path()
    saved = _profiles(path).get(name, {})
    if profile is not None and not saved:
        raise MissingCredentials(f"no profile {name!r} in {path} (`dingstore login` writes one)")
    values = {key: os.environ.get(var) or saved.get(key) or "" for key, var in ENV.items()}
    missing = [ENV[key] for key, value in values.items() if not value]
    if missing:
        raise MissingCredentials(
            f"not set: {', '.join(missing)}. Set them, or run `dingstore login` "
            f"(it saves a profile in {path})"
        )
    return Credentials(**values)


def save(creds: Credentials, profile: str | None = None) -> Path:
    """Write ``creds`` as the profile, keeping the others; the file is 0600 from its first byte
    (written to a temporary file of that mode, then renamed over the old one)."""
    name = profile or os.environ.get("DINGSTORE_PROFILE") or DEFAULT_PROFILE
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    profiles = _profiles(path)
    profiles[name] = asdict(creds)
    fd, temp = tempfile.mkstemp(prefix=".profiles-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(profiles, out, indent=2, sort_keys=True)
            out.write("\n")
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


FIELDS = tuple(f.name for f in fields(Credentials))
