"""Permissions, errors and tokens through ``Client``: grants, one exception class carrying
DingTalk's code, the HTTP status and the request id, and a token renewed for you."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from dingstore.client import Client, DingstoreError, Member
from tests.conftest import Tenant
from tests.live import LiveServer

pytestmark = pytest.mark.shapes("embedded")  # no bytes move: one shape is enough


def new_user(server: LiveServer, tenant: Tenant, name: str) -> str:
    user = server.run(server.services.identity.create_user(tenant.corp_id, name))
    return user.union_id


def test_grant_list_update_revoke(
    client: Client, connect: Callable[..., Client], server: LiveServer, tenant: Tenant
) -> None:
    bob_id = new_user(server, tenant, "bob")
    bob = connect(bob_id)
    space = client.create_space()
    folder = client.create_folder(space, "shared")
    made = client.upload(b"secret", folder, "s.txt")

    with pytest.raises(DingstoreError) as info:
        bob.read(made)
    assert (info.value.code, info.value.status) == ("permissionDenied", 403)

    client.grant(folder, "DOWNLOADER", bob_id)
    assert bob.read(made) == b"secret"
    grants = list(client.permissions(folder))
    assert [(p.member, p.role) for p in grants] == [(Member.user(bob_id), "DOWNLOADER")]
    assert list(client.permissions(folder, roles=["EDITOR"])) == []

    with pytest.raises(DingstoreError) as info:
        bob.upload(b"no", folder, "no.txt")
    assert info.value.code == "permissionDenied"
    client.grant(folder, "EDITOR", [Member.user(bob_id)], replace=True)
    assert bob.upload(b"yes", folder, "yes.txt").creator_id == bob_id

    client.revoke(folder, "EDITOR", bob_id)
    assert list(client.permissions(folder)) == []
    with pytest.raises(DingstoreError):
        bob.read(made)


def test_grants_of_more_than_thirty_members_go_in_batches(
    client: Client, server: LiveServer, tenant: Tenant
) -> None:
    people = [new_user(server, tenant, f"user{n}") for n in range(65)]
    folder = client.create_folder(client.create_space(), "team")
    client.grant(folder, "READER", people)  # 30 + 30 + 5: the API takes 30 a call
    granted = {p.member.id for p in client.permissions(folder, roles=["READER"])}
    assert granted == set(people)
    client.revoke(folder, "READER", people[:61])
    assert {p.member.id for p in client.permissions(folder)} == set(people[61:])


def test_errors_carry_code_status_and_request_id(client: Client) -> None:
    with pytest.raises(DingstoreError) as info:
        client.get_space("999999999")
    error = info.value
    assert (error.code, error.status) == ("spaceNotExist", 404)
    assert error.request_id and error.message
    assert "spaceNotExist" in str(error) and error.request_id in repr(error)

    space = client.create_space()
    with pytest.raises(DingstoreError) as info:
        client.create_folder(space, "bad*name")
    assert (info.value.code, info.value.status) == ("dentryNameIllegal", 400)


def test_bad_credentials_and_no_server(server: LiveServer, tenant: Tenant) -> None:
    bad = Client(server.endpoint, "dingnobody", "wrong", tenant.admin_id)
    with bad, pytest.raises(DingstoreError) as info:
        bad.get_space("1")
    assert (info.value.code, info.value.status) == ("invalidClientIdOrSecret", 400)

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    nowhere = Client(f"127.0.0.1:{port}", "k", "s", "u")
    with nowhere, pytest.raises(DingstoreError) as info:
        nowhere.get_space("1")
    assert (info.value.code, info.value.status) == ("connectionError", None)


class Recording(httpx.HTTPTransport):
    """A transport that notes each request's path, query and the answer's status."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int]] = []
        self.queries: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.seen.append((request.url.path, response.status_code))
        self.queries.append((request.url.path, request.url.query.decode()))
        return response


TOKEN = "/v1.0/oauth2/accessToken"


def test_a_refused_token_is_renewed_and_the_call_made_again(
    connect: Callable[..., Client], server: LiveServer
) -> None:
    wire = Recording()
    client = connect(transport=wire)  # measures the token's life on its own clock
    space = client.create_space()
    server.clock.advance(7200 + 60)  # the server's clock: the token has expired there
    assert client.get_space(space.id).id == space.id
    path = f"/v1.0/storage/spaces/{space.id}"
    assert wire.seen[-3:] == [(path, 400), (TOKEN, 200), (path, 200)]
    assert [p for p, _ in wire.seen].count(TOKEN) == 2


def test_a_token_is_renewed_before_it_expires(
    connect: Callable[..., Client], server: LiveServer
) -> None:
    wire = Recording()
    client = connect(transport=wire, clock=server.clock.monotonic)
    space = client.create_space()
    server.clock.advance(7200 - 200)  # within the renewal margin, not yet expired
    client.get_space(space.id)
    server.clock.advance(7200 + 60)
    client.get_space(space.id)
    assert [p for p, _ in wire.seen].count(TOKEN) == 3
    assert all(status == 200 for _, status in wire.seen)
