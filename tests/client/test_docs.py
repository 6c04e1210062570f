"""docs/client.md's examples work: its Python blocks run, top to bottom as one script, against
a real server, with the environment the page says to set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.client.conftest import credentials
from tests.client.test_access import new_user
from tests.conftest import Tenant
from tests.live import LiveServer

PAGE = Path(__file__).parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

pytestmark = pytest.mark.shapes("embedded")  # the transfer tests cover both shapes


def test_the_examples_of_docs_client_md_run(
    server: LiveServer, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, app_key, app_secret = credentials(server, tenant)
    for name, value in {
        "DINGSTORE_ENDPOINT": endpoint,
        "DINGSTORE_APP_KEY": app_key,
        "DINGSTORE_APP_SECRET": app_secret,
        "DINGSTORE_UNION_ID": tenant.admin_id,
        "DINGSTORE_OTHER_UNION_ID": new_user(server, tenant, "bob"),
    }.items():
        monkeypatch.setenv(name, value)
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) >= 10
    script = "\n".join(blocks)
    exec(compile(script, str(PAGE), "exec"), {"__name__": "docs_client"})
