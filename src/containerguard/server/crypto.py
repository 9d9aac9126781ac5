"""Credentials at rest: registry passwords are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from the
``cryptography`` package) under a key given by the environment (``CONTAINERGUARD_SECRET_KEY``, a Fernet key:
``python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'``). Without the
key, the server refuses to store credentials rather than keep them in clear.
"""

from __future__ import annotations

import os

from containerguard.errors import ServerError

ENV_KEY = "CONTAINERGUARD_SECRET_KEY"


def _fernet(key: str | None) -> object:
    from cryptography.fernet import Fernet

    key = key if key is not None else os.environ.get(ENV_KEY, "")
    if not key:
        raise ServerError(f"storing registry credentials needs {ENV_KEY} (a Fernet key) in the server's environment")
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise ServerError(f"{ENV_KEY} is not a valid Fernet key (32 url-safe base64-encoded bytes)") from exc


def encrypt(plain: str, key: str | None = None) -> str:
    if not plain:
        return ""
    f = _fernet(key)
    return f.encrypt(plain.encode()).decode()  # type: ignore[attr-defined, no-any-return]


def decrypt(token: str, key: str | None = None) -> str:
    if not token:
        return ""
    from cryptography.fernet import InvalidToken

    f = _fernet(key)
    try:
        return f.decrypt(token.encode()).decode()  # type: ignore[attr-defined, no-any-return]
    except InvalidToken as exc:
        raise ServerError(f"stored registry credentials cannot be decrypted with {ENV_KEY} (key changed?)") from exc
