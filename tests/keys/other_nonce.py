"""An Ed25519 signature made with a nonce of the caller's choosing (RFC 8032 §5.1.6 with r
given instead of derived): valid under the key, and not the one the key's deterministic
signing makes. What a hedged or randomised signer would produce; the tests use it to show
that a check which signs again still accepts every valid signature.

Plain integer arithmetic in extended coordinates (RFC 8032 §5.1.4), slow and not constant
time: for tests only.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization

from keys import SigningKey

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int, int, int]


def _add(a: Point, b: Point) -> Point:
    # RFC 8032 §5.1.4, the unified addition formula.
    x = (a[1] - a[0]) * (b[1] - b[0]) % _P
    y = (a[1] + a[0]) * (b[1] + b[0]) % _P
    c = 2 * a[3] * b[3] * _D % _P
    d = 2 * a[2] * b[2] % _P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _times(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _encode(point: Point) -> bytes:
    z = pow(point[2], _P - 2, _P)
    x, y = point[0] * z % _P, point[1] * z % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _base() -> Point:
    y = 4 * pow(5, -1, _P) % _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if x & 1:
        x = _P - x
    return (x, y, 1, x * y % _P)


def sign_with_nonce(key: SigningKey, data: bytes, nonce: int) -> bytes:
    """The signature (R, S) of ``data`` under ``key`` with r = ``nonce`` mod L."""
    seed = serialization.load_pem_private_key(key.to_pem(), None).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)  # §5.1.5 step 2: the clamped scalar
    public = key.public_key.raw
    r = nonce % _L
    big_r = _encode(_times(r, _base()))
    k = int.from_bytes(hashlib.sha512(big_r + public + data).digest(), "little") % _L
    return big_r + ((r + k * a) % _L).to_bytes(32, "little")
