"""The audit subject: a keyed pseudonym of the IIN, so the log never holds the IIN itself.

A keyed HMAC rather than a plain hash because the IIN space is small enough to enumerate: without
the key, nobody holding the log can map a subject back to a person. The ``v1:`` prefix names the
scheme so that a future key or algorithm change can coexist with old entries.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_PREFIX = "v1:"


def pseudonymise(iin: str, *, key: bytes) -> str:
    """``v1:`` + hex HMAC-SHA256(key, iin). Pass the normalised IIN (``parse_iin``'s result)."""
    if not key:
        raise ValueError("the pseudonym key must not be empty")
    digest = hmac.new(key, iin.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest
