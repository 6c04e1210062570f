"""DingTalk's callback crypto (service/events/crypto.py): both test vectors of events.md §3,
round trips, and the success rule for a receiver's reply."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from dingstore.service.events import crypto

# events.md §3, vector 1: DingTalk's DingTalk-Callback-Crypto repository (a check_url push)
PUSH = {
    "token": "mryue",
    "aes_key": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
    "owner": "ding6ccabc44d2c8d38b",
    "timestamp": "1608001896814",
    "nonce": "WL4PK6yA",
    "encrypt": "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvm"
    "BKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
    "signature": "03044561471240d4a14bb09372dfcfd4fd0e40cb",
    "plaintext": '{"EventType":"check_url"}',
}
# vector 2: a receiver's reply
REPLY = {
    "token": "123456",
    "aes_key": "1234567890123456789012345678901234567890123",
    "owner": "dingsnotzck6pm5veliw",
    "timestamp": "1614767836",
    "nonce": "A7Co0cJLMzIDtMMI",
    "encrypt": "YvkvaGe4hQxd3VxRmEty0dVlnCOAqwf56xwTRHDHoOURqhalbmBJQk5FNcRk42Gl5T0YQXZNwpwWSm1x"
    "AFJ5ZA==",
    "signature": "9a95a004dd16f5c307e849b994173f76aa26e5eb",
    "plaintext": "success",
}


def _crypto(v: dict[str, str]) -> crypto.CallbackCrypto:
    return crypto.CallbackCrypto(v["token"], v["aes_key"], v["owner"])


@pytest.mark.parametrize("v", [PUSH, REPLY], ids=["push", "reply"])
def test_vectors_decrypt_and_sign(v: dict[str, str]) -> None:
    c = _crypto(v)
    assert c.decrypt(v["encrypt"]) == (v["plaintext"], v["owner"])
    assert c.signature(v["timestamp"], v["nonce"], v["encrypt"]) == v["signature"]
    assert crypto.signature(v["token"], v["timestamp"], v["nonce"], v["encrypt"]) == v["signature"]


def test_the_reply_vector_passes_the_success_rule() -> None:
    body = {
        "msg_signature": REPLY["signature"],
        "timeStamp": REPLY["timestamp"],
        "nonce": REPLY["nonce"],
        "encrypt": REPLY["encrypt"],
    }
    _crypto(REPLY).check_reply(json.dumps(body).encode())
    # ``timestamp`` spelled the other way, and as a number, is accepted too
    del body["timeStamp"]
    body["timestamp"] = int(REPLY["timestamp"])  # type: ignore[assignment]
    _crypto(REPLY).check_reply(json.dumps(body).encode())


def test_the_push_vector_is_not_a_success_reply() -> None:
    body = {
        "msg_signature": PUSH["signature"],
        "timeStamp": PUSH["timestamp"],
        "nonce": PUSH["nonce"],
        "encrypt": PUSH["encrypt"],
    }
    with pytest.raises(crypto.CryptoError, match="not 'success'"):
        _crypto(PUSH).check_reply(json.dumps(body).encode())


def test_encrypting_with_the_vector_prefix_gives_the_vector_back() -> None:
    """The whole layout (prefix, length, message, owner key, padding to 32): re-encrypting the
    vector's own plaintext, prefix included, yields its ciphertext byte for byte."""
    for v in (PUSH, REPLY):
        c = _crypto(v)
        decryptor = c._cipher().decryptor()
        raw = decryptor.update(base64.b64decode(v["encrypt"])) + decryptor.finalize()
        prefix = raw[:16].decode("ascii")
        assert c.encrypt(v["plaintext"], prefix=prefix) == v["encrypt"]
        assert len(raw) % 32 == 0


@pytest.mark.parametrize("message", ["", "success", "x" * 11, "x" * 12, "é" * 40, "{}" * 500])
def test_round_trip_pads_to_32(message: str) -> None:
    c = crypto.CallbackCrypto("tok", crypto.random_text(43), "dingappkey")
    encrypt = c.encrypt(message)
    assert "\n" not in encrypt
    raw = base64.b64decode(encrypt)
    assert len(raw) % 32 == 0
    assert c.decrypt(encrypt) == (message, "dingappkey")


def test_seal_signs_what_it_sends() -> None:
    c = crypto.CallbackCrypto("tok", crypto.random_text(43), "dingappkey")
    query, body = c.seal('{"EventType":"check_url"}', "1700000000000", "abcd1234")
    encrypt = json.loads(body)["encrypt"]
    assert (
        query["msg_signature"]
        == query["signature"]
        == c.signature("1700000000000", "abcd1234", encrypt)
    )
    assert query["timestamp"] == "1700000000000" and query["nonce"] == "abcd1234"
    assert c.decrypt(encrypt)[0] == '{"EventType":"check_url"}'


def test_a_reply_with_line_breaks_signed_as_received_passes() -> None:
    """DingTalk's Python helper breaks the base64 into lines and signs it that way."""
    c = crypto.CallbackCrypto("tok", crypto.random_text(43), "dingappkey")
    wrapped = "\n".join(textwrap.wrap(c.encrypt("success"), 20)) + "\n"
    reply = {
        "msg_signature": c.signature("1614767836", "n0nce", wrapped),
        "timeStamp": "1614767836",
        "nonce": "n0nce",
        "encrypt": wrapped,
    }
    c.check_reply(json.dumps(reply).encode())
    # signed over the unbroken text instead: refused (the signature covers what was sent)
    reply["msg_signature"] = c.signature("1614767836", "n0nce", "".join(wrapped.split()))
    with pytest.raises(crypto.CryptoError, match="bad signature"):
        c.check_reply(json.dumps(reply).encode())


def _bad_replies(key: str) -> tuple[crypto.CallbackCrypto, dict[str, tuple[bytes, str]]]:
    c = crypto.CallbackCrypto("tok", key, "dingappkey")
    good = c.reply("success", "1", "n")
    other = crypto.CallbackCrypto("tok", key, "dingother")
    return c, {
        "not json": (b"success", "not JSON"),
        "not an object": (b'["success"]', "not a JSON object"),
        "missing nonce": (
            json.dumps({k: v for k, v in good.items() if k != "nonce"}).encode(),
            "lacks",
        ),
        "bad signature": (
            json.dumps({**good, "msg_signature": "0" * 40}).encode(),
            "bad signature",
        ),
        "fail": (json.dumps(c.reply("fail", "1", "n")).encode(), "not 'success'"),
        "other owner": (json.dumps(other.reply("success", "1", "n")).encode(), "owner"),
    }


@pytest.mark.parametrize(
    "case", ["not json", "not an object", "missing nonce", "bad signature", "fail", "other owner"]
)
def test_wrong_replies_are_refused(case: str) -> None:
    c, cases = _bad_replies(crypto.random_text(43))
    body, reason = cases[case]
    with pytest.raises(crypto.CryptoError, match=reason):
        c.check_reply(body)


def test_a_reply_under_another_key_is_refused() -> None:
    mine = crypto.CallbackCrypto("tok", crypto.random_text(43), "dingappkey")
    theirs = crypto.CallbackCrypto("tok", crypto.random_text(43), "dingappkey")
    with pytest.raises(crypto.CryptoError):
        mine.check_reply(json.dumps(theirs.reply("success", "1", "n")).encode())


@pytest.mark.parametrize(
    "key", ["", "a" * 42, "a" * 44, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + "é"]
)
def test_only_43_alphanumerics_are_an_aes_key(key: str) -> None:
    assert not crypto.valid_aes_key(key)
    with pytest.raises(ValueError):
        crypto.CallbackCrypto("tok", key, "owner")
    assert crypto.valid_aes_key(PUSH["aes_key"])
