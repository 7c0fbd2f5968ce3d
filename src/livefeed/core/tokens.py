"""Signed, opaque tracking tokens: a purpose letter and an integer id, HMAC-SHA256 truncated.

A token is base64url(varint(id)) + base64url(mac[:10]); 80 bits of MAC make forging a valid token
infeasible (2^80 guesses), and the purpose is mixed into the MAC so an open token cannot be
replayed as a click token or a Message-ID.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAC_BYTES = 10  # 80 bits: ample against online guessing, keeps URLs short.
# Every token purpose, in one place: a purpose is mixed into the MAC, so a token made for one can
# never pass as another. One byte each, never reused (tests/test_core_tokens.py checks).
OPEN = b"o"  # the open pixel: /o/<token>.gif (recipient copy id)
CLICK = b"c"  # a tracked link: /c/<token> (link id)
MESSAGE = b"m"  # our Message-ID's local part: replies find their copy (recipient copy id)
PROBE = b"p"  # "is this hostname us?": the tracking hostname check (a nonce)
SIGNIN = b"l"  # a sign-in link, with its expiry mixed in (user id)
SELF = b"s"  # the rep's own browser: the self cookie on the tracking host (user id)
EXTENSION = b"x"  # the extension's one-time code, with expiry, return address and PKCE challenge mixed in (user id)
IDENTIFY = b"i"  # the website identification parameter added to clicked links (person number)
VISITOR = b"v"  # a website visitor id, issued by the server and bound to its workspace
CLICKED = b"k"  # the click cookie: "this browser followed one of our links before, at <time>"
PURPOSES = {
    "open": OPEN, "click": CLICK, "message": MESSAGE, "probe": PROBE, "signin": SIGNIN, "self": SELF,
    "extension": EXTENSION, "identify": IDENTIFY, "visitor": VISITOR, "clicked": CLICKED,
}  # fmt: skip


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _unvarint(raw: bytes) -> int | None:
    number = shift = 0
    for index, byte in enumerate(raw):
        number |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return number if index == len(raw) - 1 else None
    return None


class TokenSigner:
    """Signs and verifies ids for one purpose-free secret."""

    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"livefeed-tokens\x00" + secret).digest()

    def _mac(self, purpose: bytes, body: bytes) -> bytes:
        return hmac.digest(self._key, purpose + body, "sha256")[:MAC_BYTES]  # one-shot C path

    def sign(self, purpose: bytes, number: int) -> str:
        """Return the opaque token for `number` under `purpose`."""
        body = _varint(number)
        return _b64(body) + _b64(self._mac(purpose, body))

    def verify(self, purpose: bytes, token: str) -> int | None:
        """Return the id a genuine token carries, or None for anything else."""
        mac_len = 14  # len(_b64(10 bytes))
        if not 15 <= len(token) <= 40 or not token.isascii():
            return None
        try:
            body = _unb64(token[:-mac_len])
            mac = _unb64(token[-mac_len:])
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        number = _unvarint(body)
        # One spelling per value: base64 has spare bits and skips stray characters, a varint can be
        # padded; only the exact text sign() makes is accepted (one token, one cache key, one row).
        if number is None or _b64(_varint(number)) + _b64(mac) != token:
            return None
        return number
