"""The pieces of online editing that need no server: the discovery document, editor URLs,
proof signatures, access tokens, and the settings that refuse what cannot work."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dingstore import errors, settings
from dingstore.service.weboffice import discovery, proof, tokens
from tests.office import EDIT, ODT, PDF, VIEW, discovery_xml, dotnet_ticks, proof_of


def test_the_discovery_is_read_by_zone_extension_and_mime_type() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    found = discovery.parse(discovery_xml(key))
    assert found.urlsrc("Report.DOCX", ("edit", "view")) == EDIT  # external before internal
    assert found.urlsrc("a.docx", ("view", "edit")) == VIEW
    assert found.urlsrc("a.pdf", ("edit", "view")) == PDF
    assert found.urlsrc("a.odt", ("edit",)) == ODT  # by MIME type
    assert found.urlsrc("a.xyz", ("edit", "view")) is None
    assert found.urlsrc("noextension", ("edit", "view")) is None
    assert found.proof_key == discovery.ProofKey(
        key.public_key().public_numbers().n, key.public_key().public_numbers().e
    )
    assert discovery.parse(discovery_xml(None)).proof_key is None
    for bad in (b"<html/>", b"not xml"):
        with pytest.raises(ValueError):
            discovery.parse(bad)


def test_editor_urls_drop_placeholders_and_add_the_wopi_src() -> None:
    src = "http://h:1/wopi/files/12"
    quoted = "WOPISrc=http%3A%2F%2Fh%3A1%2Fwopi%2Ffiles%2F12"
    assert discovery.editor_url(EDIT, src) == EDIT + quoted  # ends with "?"
    assert discovery.editor_url(PDF, src) == "https://office.test/pdf/view.aspx?" + quoted
    assert discovery.editor_url("https://o/e", src) == "https://o/e?" + quoted
    assert discovery.editor_url("https://o/e?a=1", src) == "https://o/e?a=1&" + quoted


def test_a_proof_holds_only_for_its_token_url_time_and_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    found = discovery.parse(discovery_xml(key))
    now = 1_700_000_000_000
    ticks = dotnet_ticks(now)
    url = "http://h/wopi/files/1?access_token=t"

    def headers(signed_by: rsa.RSAPrivateKey, **kw: str) -> dict[str, str]:
        return {
            "x-wopi-timestamp": str(ticks),
            "x-wopi-proof": proof_of(signed_by, "t", url, ticks),
            **kw,
        }

    assert proof.holds(found, "t", url, headers(key), now)
    assert proof.holds(found, "t", url.lower(), headers(key), now)  # compared upper-cased
    assert not proof.holds(found, "u", url, headers(key), now)
    assert not proof.holds(found, "t", url + "&x=1", headers(key), now)
    assert not proof.holds(found, "t", url, headers(other), now)
    assert not proof.holds(found, "t", url, headers(key), now + 21 * 60 * 1000)
    assert not proof.holds(found, "t", url, {"x-wopi-timestamp": str(ticks)}, now)
    assert not proof.holds(found, "t", url, headers(key, **{"x-wopi-proof": "!!"}), now)
    rotated = headers(other, **{"x-wopi-proofold": proof_of(key, "t", url, ticks)})
    assert proof.holds(found, "t", url, rotated, now)  # ProofOld under the current key
    assert proof.holds(discovery.parse(discovery_xml(None)), "t", url, {}, now)  # no key


def test_access_tokens_are_signed_and_expire() -> None:
    signer = tokens.Signer("secret")
    grant = tokens.Grant("c", "a", "u", 1, 2, True, 1000, tokens.new_token_id())
    token = signer.sign(grant)
    assert signer.verify(token, 999) == grant
    with pytest.raises(errors.Unauthorized):
        signer.verify(token, 1000)
    assert signer.verify(token, 5000, expired_ok=True) == grant
    with pytest.raises(errors.Unauthorized):
        tokens.Signer("another secret").verify(token, 999)
    head, _, signature = token.split(".")
    forged = tokens.Signer("x").sign(tokens.Grant("c", "a", "u", 1, 2, True, 10**15, "j"))
    with pytest.raises(errors.Unauthorized):
        signer.verify(f"{head}.{forged.split('.')[1]}.{signature}", 999)
    for bad in (None, "", "v1.x", "v2.a.b", "x" * 5000):
        with pytest.raises(errors.Unauthorized):
            signer.verify(bad, 0)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/d", "office.example.com"])
def test_a_discovery_url_must_be_http(url: str) -> None:
    with pytest.raises(settings.ConfigError, match="DINGSTORE_WOPI_DISCOVERY_URL"):
        settings.load(wopi_discovery_url=url)
