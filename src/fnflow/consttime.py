"""Comparing secrets in constant time, whatever text a client sends."""

from __future__ import annotations

import hmac


def same(a: str, b: str) -> bool:
    """``a == b`` in time that does not depend on where they differ. ``hmac.compare_digest`` refuses
    ``str`` with non-ASCII characters (TypeError), which a header or a signature parameter may hold,
    so both are compared as UTF-8 (lone surrogates kept, as JSON text may carry them)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
