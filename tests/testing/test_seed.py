"""Seed files: the format, its errors naming the bad entry, and what a seed makes, used through
the official SDK (fixed appKey/appSecret, files with their content)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from dingstore.service import seeding
from dingstore.settings import ConfigError
from dingstore.testing import DingstoreServer, start_server
from tests.live import DingstoreProcess, Sdk, free_port, http

pytestmark = pytest.mark.shapes("embedded")

SEED = """\
orgs:
  - name: Acme
    corpId: dingacme0000000001
    users:
      - {name: alice, admin: true, unionId: alice0000000000001}
      - {name: bob}
    apps:
      - name: sync
        appKey: dingsynckey00000001
        appSecret: the-sync-apps-secret
      - {name: reader, scopes: [Storage.File.Read, Storage.Space.Read]}
    spaces:
      - name: Team
        folders: [docs/specs, empty]
        files:
          - {path: docs/readme.txt, content: "hello"}
          - {path: docs/specs/logo.bin, source: logo.bin}
          - {path: top.txt, content: ""}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[DingstoreServer]:
    with start_server() as started:
        yield started


def write(tmp_path: Path, text: str, name: str = "seed.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_seed_makes_orgs_users_apps_spaces_folders_and_files(
    server: DingstoreServer, tmp_path: Path
) -> None:
    (tmp_path / "logo.bin").write_bytes(bytes(range(256)))
    seeded = server.seed(write(tmp_path, SEED))

    acme = seeded.orgs["Acme"]
    assert acme.corp_id == "dingacme0000000001"
    assert acme.users["alice"] == "alice0000000000001" and len(acme.users["bob"]) == 20
    assert acme.apps["sync"] == seeding.SeededApp("dingsynckey00000001", "the-sync-apps-secret")
    team = acme.spaces["Team"]
    assert sorted(team.dentries) == [
        "docs", "docs/readme.txt", "docs/specs", "docs/specs/logo.bin", "empty", "top.txt",
    ]  # fmt: skip

    # the fixed key and secret work through the SDK; the files are there, with their bytes
    token = Sdk(server.endpoint).access_token("dingsynckey00000001", "the-sync-apps-secret")
    storage = StorageClient(Config(protocol="http", endpoint=server.endpoint))
    headers = m.GetFileDownloadInfoHeaders(x_acs_dingtalk_access_token=token.access_token)
    for path, content in [
        ("docs/readme.txt", b"hello"),
        ("docs/specs/logo.bin", bytes(range(256))),
    ]:
        info = storage.get_file_download_info_with_options(
            team.space_id,
            team.dentries[path],
            m.GetFileDownloadInfoRequest(union_id=acme.users["alice"]),
            headers,
            RuntimeOptions(),
        ).body.header_signature_info
        assert http.get(info.resource_urls[0], headers=info.headers).content == content
    listed = storage.list_dentries_with_options(
        team.space_id,
        m.ListDentriesRequest(union_id=acme.users["alice"], parent_id="0"),
        m.ListDentriesHeaders(x_acs_dingtalk_access_token=token.access_token),
        RuntimeOptions(),
    ).body.dentries
    assert sorted((d.name, d.type) for d in listed) == [
        ("docs", "FOLDER"), ("empty", "FOLDER"), ("top.txt", "FILE"),
    ]  # fmt: skip
    # the reader app has the scopes it was given, no more
    reader = acme.apps["reader"]
    principal = server.call(
        server.services.tokens.authenticate,
        Sdk(server.endpoint).access_token(reader.app_key, reader.app_secret).access_token,
    )
    assert principal.scopes == {"Storage.File.Read", "Storage.Space.Read"}

    # seeding the same fixed corpId again is refused, naming it; nothing more is made
    with pytest.raises(ConfigError, match="corpId dingacme0000000001 exists already"):
        server.seed(tmp_path / "seed.yaml")


def test_json_seeds_and_generated_ids(server: DingstoreServer, tmp_path: Path) -> None:
    document = {"orgs": [{"name": "Beta", "users": [{"name": "u"}], "apps": [{"name": "a"}]}]}
    one = server.seed(write(tmp_path, json.dumps(document), "seed.json"))
    two = server.seed(tmp_path / "seed.json")  # no fixed ids: a second, separate org
    assert one.orgs["Beta"].corp_id != two.orgs["Beta"].corp_id
    assert one.orgs["Beta"].apps["a"].app_key != two.orgs["Beta"].apps["a"].app_key


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("orgs: []", "orgs: List should have at least 1 item"),
        ("orgs: [{corpId: x}]", "orgs[0] name: Field required"),
        (
            "orgs: [{name: A, users: [{name: u, admn: true}]}]",
            "orgs[0] (A) users[0] (u) admn: Extra",
        ),
        (
            "orgs: [{name: A, apps: [{name: s, scopes: [Storage.Nope]}]}]",
            "orgs[0] (A) apps[0] (s): unknown scopes ['Storage.Nope']",
        ),
        (
            "orgs: [{name: A, users: [{name: u}], apps: [{name: a}],"
            " spaces: [{name: S, files: [{path: a.txt, content: x, source: a.txt}]}]}]",
            "orgs[0] (A) spaces[0] (S) files[0] (a.txt): give content (the text itself) or source",
        ),
        (
            "orgs: [{name: A, users: [{name: u}], apps: [{name: a}],"
            " spaces: [{name: S, owner: zed}]}]",
            "orgs[0] (A) spaces[0] (S): owner 'zed' is not one of the org's users",
        ),
        (
            "orgs: [{name: A, users: [{name: u}], spaces: [{name: S}]}]",
            "orgs[0] (A) spaces[0] (S): a space belongs to an app",
        ),
        (
            "orgs: [{name: A, users: [{name: u}], apps: [{name: a}],"
            " spaces: [{name: S, folders: [d], files: [{path: /d/, content: x}]}]}]",
            "orgs[0] (A) spaces[0] (S): path given twice: d",
        ),
        (
            "orgs: [{name: A, users: [{name: u}], apps: [{name: a}],"
            " spaces: [{name: S, folders: [../up]}]}]",
            "orgs[0] (A) spaces[0] (S) folders[0]: '../up' is not a path",
        ),
        (
            "orgs: [{name: A, apps: [{name: a, appKey: k}]},"
            " {name: B, apps: [{name: b, appKey: k}]}]",
            "orgs: appKey given twice: k",
        ),
        ("orgs: [{name: A}\n", "not valid YAML"),
    ],
)
def test_a_bad_entry_is_named(text: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        seeding.load(write(tmp_path, text))
    assert str(refused.value).startswith(f"{tmp_path / 'seed.yaml'}: ")
    assert says in str(refused.value)


def test_a_missing_source_or_file_is_named(tmp_path: Path) -> None:
    text = (
        "orgs: [{name: A, users: [{name: u}], apps: [{name: a}],"
        " spaces: [{name: S, files: [{path: x.bin, source: nowhere.bin}]}]}]"
    )
    with pytest.raises(ConfigError, match=r"orgs\[0\] \(A\) spaces\[0\] \(S\) files\[0\]: no file"):
        seeding.load(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"seed file \S*absent\.yaml: No such file"):
        seeding.load(tmp_path / "absent.yaml")


def test_serve_refuses_a_bad_seed_naming_the_entry(tmp_path: Path) -> None:
    seed = write(tmp_path, "orgs: [{name: A, users: [{name: u, admn: true}]}]")
    result = subprocess.run(
        [sys.executable, "-m", "dingstore", "serve", "--ephemeral", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "orgs[0] (A) users[0] (u) admn: Extra inputs are not permitted" in result.stderr


def test_serve_loads_its_seed_and_again_after_a_reset(tmp_path: Path) -> None:
    (tmp_path / "logo.bin").write_bytes(b"logo")
    seed = write(tmp_path, SEED)
    port = free_port()
    args = ["serve", "--ephemeral", "--test-mode", "--port", str(port), "--seed", str(seed)]
    process = DingstoreProcess("serve", args, {}, tmp_path, port=port).start()
    try:
        process.wait_ready(timeout=30, interval=0.02)
        assert "loaded" in process.output() and "Acme (dingacme0000000001)" in process.output()
        assert "appSecret" not in process.output()  # no default org beside the seed's
        sdk = Sdk(f"127.0.0.1:{port}")
        assert sdk.access_token("dingsynckey00000001", "the-sync-apps-secret").access_token
        reset = http.post(f"http://127.0.0.1:{port}/_dingstore/reset", json={})
        assert reset.status_code == 200, reset.text
        assert sdk.access_token("dingsynckey00000001", "the-sync-apps-secret").access_token
    finally:
        assert process.stop() in (0, -15), process.log()
