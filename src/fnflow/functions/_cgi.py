"""The classic watchdog's CGI environment: a request's headers as ``Http_*`` variables.

The command runtime gives them to the process it starts, the ``python3-classic`` worker sets them
in ``os.environ`` around a call: the same names, values and quirks as ``classic-watchdog``'s
``getAdditionalEnvs`` (Go's canonical header names, first value only, Host and Transfer-Encoding
taken out of the headers as Go's server does). Stdlib only: the worker imports it before user code.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~20 ms of every worker start; mypy still reads this block
if TYPE_CHECKING:
    from collections.abc import Iterable

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})  # the classic watchdog answers others 405
TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
LIFTED = frozenset({"Host", "Transfer-Encoding"})  # Go's server moves these out of the header map


def canonical(name: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey``: ``x-call-id`` → ``X-Call-Id``; names with odd bytes stay as is."""
    if not name or not TOKEN.issuperset(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def environ(
    method: str, path: str, query: str, headers: Iterable[tuple[str, str]], content_length: int
) -> dict[str, str]:
    """The ``Http_*`` variables for one request."""
    env: dict[str, str] = {}
    lifted: dict[str, str] = {}
    for name, value in headers:
        key = canonical(name)
        if key in LIFTED:
            lifted.setdefault(key, value)
        else:
            env.setdefault("Http_" + key.replace("-", "_"), value)
    env["Http_Method"] = method
    env["Http_ContentLength"] = env["Http_Content_Length"] = str(content_length)
    if query:
        env["Http_Query"] = query
    if path:
        env["Http_Path"] = path
    if "Transfer-Encoding" in lifted:
        env["Http_Transfer_Encoding"] = lifted["Transfer-Encoding"]
    env["Http_Host"] = lifted.get("Host", "")
    return env
