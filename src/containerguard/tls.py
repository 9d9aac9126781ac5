"""What every HTTPS client of the package trusts: the system's certificate authorities, or the bundle named by
``SSL_CERT_FILE`` (the usual way to trust a private CA), as an :class:`ssl.SSLContext`.

httpx deprecated ``verify=<path>`` (0.28); an SSLContext built once here is what it wants, and a bad bundle is
one clear error at start instead of a failure at the first request.
"""

from __future__ import annotations

import os
import ssl

from containerguard.errors import UsageError


def client_verify(verify: bool | str = True) -> ssl.SSLContext | bool:
    """``verify`` for an httpx client: False (no verification) stays False; a path or ``SSL_CERT_FILE`` gives a
    context trusting that bundle; otherwise True (httpx's default trust store). Raises UsageError (one line)
    when the bundle cannot be read."""
    if verify is False:
        return False
    cafile = verify if isinstance(verify, str) else os.environ.get("SSL_CERT_FILE")
    if not cafile:
        return True
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"certificate bundle {cafile}: {why}") from None
