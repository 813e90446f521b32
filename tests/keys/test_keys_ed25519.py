"""Ed25519 keys: RFC 8032 known answers, PEM/raw/JWK forms, files, resolvers."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import KeySet, OKPKey

from keys import (
    KeyFormatError,
    KeysError,
    SignatureInvalid,
    SigningKey,
    UnknownKey,
    VerifyingKey,
    jwk_set,
    jwks_resolver,
    keys_from_jwk_set,
    load_signing_key,
    load_verifying_key,
    save_signing_key,
    static_resolver,
)
from tests.keys.other_nonce import sign_with_nonce

# RFC 8032 §7.1: (secret key, public key, message, signature), all hex.
RFC8032_VECTORS = [
    pytest.param(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="TEST 1",
    ),
    pytest.param(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="TEST 2",
    ),
    pytest.param(
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        id="TEST 3",
    ),
    pytest.param(
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        hashlib.sha512(b"abc").hexdigest(),
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        id="TEST SHA(abc)",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_rfc8032_known_answers(secret: str, public: str, message: str, signature: str) -> None:
    key = SigningKey.from_raw(bytes.fromhex(secret))
    assert key.public_key.raw.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    key.public_key.verify(bytes.fromhex(signature), bytes.fromhex(message))
    VerifyingKey.from_raw(bytes.fromhex(public)).verify(
        bytes.fromhex(signature), bytes.fromhex(message)
    )


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_rfc8032_tampered_message_or_signature_refused(
    secret: str, public: str, message: str, signature: str
) -> None:
    verifying = VerifyingKey.from_raw(bytes.fromhex(public))
    with pytest.raises(SignatureInvalid):
        verifying.verify(bytes.fromhex(signature), bytes.fromhex(message) + b"\x00")
    flipped = bytearray.fromhex(signature)
    flipped[0] ^= 1
    with pytest.raises(SignatureInvalid):
        verifying.verify(bytes(flipped), bytes.fromhex(message))


def test_rfc8037_appendix_a_jwk() -> None:
    # RFC 8037 Appendix A.1/A.2 use the RFC 8032 TEST 1 key.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    jwk = SigningKey.from_raw(seed).public_key.to_jwk("k1")
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "kid": "k1",
        "use": "sig",
        "alg": "Ed25519",
    }
    assert VerifyingKey.from_jwk(jwk) == SigningKey.from_raw(seed).public_key


def test_signature_of_wrong_length_refused() -> None:
    key = SigningKey.generate()
    with pytest.raises(SignatureInvalid):
        key.public_key.verify(key.sign(b"x")[:63], b"x")
    with pytest.raises(SignatureInvalid):
        key.public_key.verify(b"", b"x")


def test_other_key_refused() -> None:
    data = b"envelope"
    with pytest.raises(SignatureInvalid):
        SigningKey.generate().public_key.verify(SigningKey.generate().sign(data), data)


def test_pem_round_trip_without_passphrase() -> None:
    key = SigningKey.generate()
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = SigningKey.from_pem(pem)
    assert again.public_key == key.public_key
    assert again.sign(b"m") == key.sign(b"m")


def test_pem_round_trip_with_passphrase() -> None:
    key = SigningKey.generate()
    pem = key.to_pem(b"correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SigningKey.from_pem(pem, b"correct horse").public_key == key.public_key


@pytest.mark.parametrize("passphrase", [b"wrong", None])
def test_encrypted_pem_with_wrong_or_no_passphrase_is_a_keys_error(
    passphrase: bytes | None,
) -> None:
    pem = SigningKey.generate().to_pem(b"correct horse")
    with pytest.raises(KeysError):
        SigningKey.from_pem(pem, passphrase)


def test_passphrase_for_plain_pem_is_a_keys_error() -> None:
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(SigningKey.generate().to_pem(), b"unexpected")


def test_empty_passphrase_refused() -> None:
    with pytest.raises(KeyFormatError):
        SigningKey.generate().to_pem(b"")


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_garbage_pem_refused(data: bytes) -> None:
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(data)
    with pytest.raises(KeyFormatError):
        VerifyingKey.from_pem(data)


def test_non_ed25519_pem_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    private_pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(private_pem)
    with pytest.raises(KeyFormatError):
        VerifyingKey.from_pem(public_pem)


def test_public_pem_round_trip() -> None:
    public = SigningKey.generate().public_key
    assert VerifyingKey.from_pem(public.to_pem()) == public


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_raw_of_wrong_size_refused(size: int) -> None:
    with pytest.raises(KeyFormatError):
        SigningKey.from_raw(b"\x01" * size)
    with pytest.raises(KeyFormatError):
        VerifyingKey.from_raw(b"\x01" * size)


def test_equality_and_hash_by_raw_bytes() -> None:
    key = SigningKey.generate()
    same = VerifyingKey.from_raw(key.public_key.raw)
    assert same == key.public_key
    assert hash(same) == hash(key.public_key)
    assert len({same, key.public_key, SigningKey.generate().public_key}) == 2
    assert same != key.public_key.raw


def test_repr_does_not_reveal_the_seed() -> None:
    seed = bytes(range(32))
    key = SigningKey.from_raw(seed)
    assert seed.hex() not in repr(key)
    assert "AAECAwQF" not in repr(key)


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "RSA"},
        {"crv": "X25519"},
        {"crv": "Ed448"},
        {"d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"},
        {"alg": "ES256"},
        {"use": "enc"},
        {"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
        {"x": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH"},
        {"x": 12},
    ],
)
def test_bad_jwk_refused(change: dict[str, object]) -> None:
    jwk: dict[str, object] = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    }
    jwk.update(change)
    with pytest.raises(KeyFormatError):
        VerifyingKey.from_jwk(jwk)


def test_jwk_with_eddsa_alg_accepted() -> None:
    jwk = SigningKey.generate().public_key.to_jwk("k") | {"alg": "EdDSA"}
    VerifyingKey.from_jwk(jwk)


def test_jwk_readable_by_joserfc() -> None:
    key = SigningKey.generate()
    jwk: dict[str, str | list[str]] = {**key.public_key.to_jwk("hub#2026-11")}
    imported = OKPKey.import_key(jwk)
    assert imported.kid == "hub#2026-11"
    assert imported.as_dict(private=False)["x"] == key.public_key.to_jwk("k")["x"]


def test_save_and_load_signing_key(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "hub.pem"
    save_signing_key(path, key, b"pass")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_signing_key(path, b"pass").public_key == key.public_key
    with pytest.raises(KeysError):
        load_signing_key(path, b"wrong")
    save_signing_key(str(path), key)  # replaces the file, still private
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_signing_key(path).public_key == key.public_key
    assert [p.name for p in tmp_path.iterdir()] == ["hub.pem"]


def test_load_verifying_key_from_public_or_private_pem(tmp_path: Path) -> None:
    key = SigningKey.generate()
    (tmp_path / "public.pem").write_bytes(key.public_key.to_pem())
    (tmp_path / "private.pem").write_bytes(key.to_pem())
    (tmp_path / "encrypted.pem").write_bytes(key.to_pem(b"pass"))
    assert load_verifying_key(tmp_path / "public.pem") == key.public_key
    assert load_verifying_key(tmp_path / "private.pem") == key.public_key
    with pytest.raises(KeyFormatError):
        load_verifying_key(tmp_path / "encrypted.pem")


def test_static_resolver() -> None:
    key = SigningKey.generate().public_key
    resolve = static_resolver({"audit.yanliang#2026-11": key})
    assert resolve("audit.yanliang#2026-11") == key
    with pytest.raises(UnknownKey):
        resolve("audit.yanliang#2025-01")


def test_jwk_set_round_trip_and_joserfc_reads_it() -> None:
    keys = {"hub#2026-10": SigningKey.generate().public_key}
    keys["hub#2026-11"] = SigningKey.generate().public_key
    document = jwk_set(keys)
    assert keys_from_jwk_set(document) == keys
    resolve = jwks_resolver(document)
    assert resolve("hub#2026-11") == keys["hub#2026-11"]
    with pytest.raises(UnknownKey):
        resolve("hub#2020-01")
    key_set = KeySet.import_key_set(document)  # type: ignore[arg-type]
    assert {k.kid for k in key_set.keys} == set(keys)


def test_jwk_set_skips_foreign_key_types_and_refuses_bad_members() -> None:
    key = SigningKey.generate().public_key
    document = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "x"}, key.to_jwk("k")]}
    assert keys_from_jwk_set(document) == {"k": key}
    with pytest.raises(KeyFormatError):
        keys_from_jwk_set({"keys": [key.to_jwk("k"), key.to_jwk("k")]})
    with pytest.raises(KeyFormatError):
        keys_from_jwk_set({"keys": "nope"})
    with pytest.raises(KeyFormatError):
        keys_from_jwk_set({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]})


# The eight points of small order (RFC 8032 §5.1.3 encodings), the last three with y ≥ p:
# the encodings libsodium refuses. Under any of them a cofactorless check can pass a
# signature that no private key made.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # the identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p + 1
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p
]


@pytest.mark.parametrize("encoded", SMALL_ORDER)
def test_under_a_small_order_or_non_canonical_key_nothing_verifies_in_any_form(
    encoded: str,
) -> None:
    raw = bytes.fromhex(encoded)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    loads: list[Callable[[], VerifyingKey]] = [
        lambda: VerifyingKey.from_raw(raw),
        lambda: VerifyingKey.from_jwk(jwk),
    ]
    for load in loads:
        try:
            key = load()
        except KeyFormatError:
            continue  # refused by OpenSSL itself (not a point)
        assert key.weak
        # The universal forgery: R = the identity, S = 0, for any message.
        for message in (b"", b"any message"):
            with pytest.raises(SignatureInvalid, match="small-order or non-canonical"):
                key.verify(bytes.fromhex(SMALL_ORDER[0]) + bytes(32), message)


def test_the_forgery_openssl_takes_under_the_identity_key_is_refused() -> None:
    identity = bytes.fromhex(SMALL_ORDER[0])
    openssl = ed25519.Ed25519PublicKey.from_public_bytes(identity)
    forged = identity + bytes(32)
    pem = openssl.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = VerifyingKey.from_pem(pem)
    assert key.weak
    with pytest.raises(SignatureInvalid):
        key.verify(forged, b"anything")
    assert not SigningKey.generate().public_key.weak


# L, the order of the prime-order group (RFC 8032 §5.1).
_L = 2**252 + 27742317777372353535851937790883648493


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_signature_with_s_not_below_l_refused(
    secret: str, public: str, message: str, signature: str
) -> None:
    # RFC 8032 §5.1.7 step 1: S + L passes the group equation, so a check that skips S < L
    # takes a second signature for the same message (malleability).
    given = bytes.fromhex(signature)
    s = int.from_bytes(given[32:], "little")
    malleated = given[:32] + (s + _L).to_bytes(32, "little")
    with pytest.raises(SignatureInvalid):
        VerifyingKey.from_raw(bytes.fromhex(public)).verify(malleated, bytes.fromhex(message))


# --- a key checking its own signatures by signing again -------------------------------------


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_a_checker_takes_what_the_key_signed(
    secret: str, public: str, message: str, signature: str
) -> None:
    checker = SigningKey.from_raw(bytes.fromhex(secret)).checker()
    assert checker == VerifyingKey.from_raw(bytes.fromhex(public))
    checker.verify(bytes.fromhex(signature), bytes.fromhex(message))


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_a_checker_refuses_what_the_public_key_refuses(
    secret: str, public: str, message: str, signature: str
) -> None:
    checker = SigningKey.from_raw(bytes.fromhex(secret)).checker()
    given, data = bytes.fromhex(signature), bytes.fromhex(message)
    s = int.from_bytes(given[32:], "little")
    refused = {
        "a flipped bit": bytes([given[0] ^ 1]) + given[1:],
        "S + L": given[:32] + (s + _L).to_bytes(32, "little"),
        "another key's": SigningKey.generate().sign(data),
        "too short": given[:63],
        "empty": b"",
    }
    for what, bad in refused.items():
        with pytest.raises(SignatureInvalid):
            checker.verify(bad, data)
            pytest.fail(what)
    with pytest.raises(SignatureInvalid):
        checker.verify(given, data + b"!")


def test_a_checker_takes_a_valid_signature_the_key_would_not_make() -> None:
    # A valid signature with another nonce (a hedged signer's, say) is not sign(data): the
    # checker verifies it, so it accepts exactly what the public key accepts.
    key = SigningKey.generate()
    data = b"a receipt"
    other = sign_with_nonce(key, data, nonce=0x5EED)
    assert other != key.sign(data)
    key.public_key.verify(other, data)
    key.checker().verify(other, data)
    with pytest.raises(SignatureInvalid):
        key.checker().verify(other, data + b"!")


def test_a_checker_shows_only_the_public_half() -> None:
    key = SigningKey.generate()
    checker = key.checker()
    assert checker.to_jwk("k") == key.public_key.to_jwk("k")
    assert checker.to_pem() == key.public_key.to_pem()
    assert repr(checker) == repr(key.public_key)
    assert not checker.weak
