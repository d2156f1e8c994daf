import base64
import hashlib

from control_plane.services.hashing import (
    hash_node_secret,
    hash_password,
    new_token,
    verify_node_secret,
    verify_password,
)


def test_node_secret_hash_is_a_mosquitto_password_file_entry() -> None:
    salt = b"0123456789ab"
    stored = hash_node_secret("s3cret", salt=salt)
    _, kind, iterations, salt_b64, digest_b64 = stored.split("$")
    assert (kind, iterations) == ("7", "101")
    assert base64.b64decode(salt_b64) == salt
    # Computed independently: PBKDF2-HMAC-SHA512 as mosquitto_passwd writes it.
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, 101)


def test_node_secret_verification() -> None:
    stored = hash_node_secret("right")
    assert verify_node_secret(stored, "right")
    assert not verify_node_secret(stored, "wrong")
    assert not verify_node_secret("garbage", "right")
    assert not verify_node_secret("$6$1$AA==$AA==", "right")


def test_passwords() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")


def test_tokens_are_64_hex_and_distinct() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in tokens)
