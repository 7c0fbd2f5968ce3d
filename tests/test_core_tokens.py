from livefeed.core.tokens import CLICK, MESSAGE, OPEN, TokenSigner

signer = TokenSigner(b"k" * 40)


def test_token_round_trips_its_id():
    for number in (0, 1, 127, 128, 2**31, 2**62):
        assert signer.verify(OPEN, signer.sign(OPEN, number)) == number


def test_token_is_opaque_and_url_safe():
    token = signer.sign(OPEN, 12345)
    assert "12345" not in token
    assert all(c.isalnum() or c in "-_" for c in token)


def test_altered_token_is_rejected():
    token = signer.sign(OPEN, 42)
    for index in range(len(token)):
        altered = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
        assert signer.verify(OPEN, altered) is None


def test_token_for_one_purpose_is_rejected_for_another():
    assert signer.verify(CLICK, signer.sign(OPEN, 7)) is None
    assert signer.verify(OPEN, signer.sign(MESSAGE, 7)) is None


def test_token_from_another_secret_is_rejected():
    assert signer.verify(OPEN, TokenSigner(b"x" * 40).sign(OPEN, 7)) is None


def test_garbage_is_rejected_without_error():
    for junk in ("", "a", "x" * 200, "é" * 20, "!!!!!!!!!!!!!!!!!!!!", "AAAAAAAAAAAAAAAAAAAA"):
        assert signer.verify(OPEN, junk) is None


def test_only_the_canonical_spelling_of_a_token_is_accepted():
    from livefeed.core.tokens import OPEN, TokenSigner, _b64, _unb64

    signer = TokenSigner(b"k" * 32)
    token = signer.sign(OPEN, 1234)
    assert signer.verify(OPEN, token) == 1234
    last = token[-1]
    spare_bits = [
        c
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        if c != last and _unb64(token[-14:-1] + c) == _unb64(token[-14:])
    ]
    assert spare_bits  # base64 leaves bits unused in the last character: other spellings decode the same
    for other in spare_bits:
        assert signer.verify(OPEN, token[:-1] + other) is None
    assert signer.verify(OPEN, token[:3] + "." + token[3:]) is None  # stray characters base64 would skip
    padded = _b64(bytes([0xD2 | 0x80, 0x89, 0x00]))  # 1234 as a padded varint
    assert signer.verify(OPEN, padded + token[-14:]) is None


def test_every_token_purpose_is_one_distinct_byte_in_one_registry():
    from livefeed.core import tokens

    purposes = list(tokens.PURPOSES.values())
    assert all(isinstance(p, bytes) and len(p) == 1 for p in purposes)
    assert len(set(purposes)) == len(purposes)  # a token made for one purpose never passes as another
    assert {tokens.OPEN, tokens.CLICK, tokens.MESSAGE, tokens.PROBE, tokens.SIGNIN, tokens.SELF, tokens.EXTENSION,
            tokens.IDENTIFY, tokens.VISITOR, tokens.CLICKED} == set(purposes)  # fmt: skip
