"""Function Compute's conventions: its endpoint names and the path of its HTTP triggers.

An HTTP trigger answers at ``/2016-08-15/proxy/{service}[.{qualifier}]/{function}/{path}`` of
the account's endpoint, ``{account}.{region}.fc.aliyuncs.com`` (``{region}-internal`` inside
Alibaba's network, ``{account}.fc.{region}.aliyuncs.com`` in newer SDKs). fnflow serves the same
path on its own port and answers requests for those hosts as a proxy is asked (see
``fnflow.api.proxied``), so a URL written for the cloud reaches the local function.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from fnflow.compat.alibaba.hosts import hostname

API_VERSION = "2016-08-15"
PROXY_PREFIX = f"/{API_VERSION}/proxy/"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_FC_HOST = re.compile(rf"^{_LABEL}\.(?:{_LABEL}\.fc|fc\.{_LABEL})\.aliyuncs\.com\.?$")
_FC_URL = re.compile(r"https?://([A-Za-z0-9.-]+\.aliyuncs\.com)(?::\d+)?(?=/)")


@dataclass(frozen=True)
class ProxyPath:
    """What an HTTP trigger's path names; ``path`` is the rest, ``/`` when there is none."""

    service: str
    qualifier: str | None
    function: str
    path: str


@functools.lru_cache(maxsize=256)  # asked on every request, of the few hosts a server is called by
def is_fc_host(authority: str) -> bool:
    return bool(_FC_HOST.match(hostname(authority)))


def proxy_path(path: str) -> ProxyPath | None:
    """The trigger a request path names, or None if it is not under ``/2016-08-15/proxy/``."""
    if not path.startswith(PROXY_PREFIX):
        return None
    service, _, rest = path[len(PROXY_PREFIX) :].partition("/")
    function, slash, sub = rest.partition("/")
    service, dot, qualifier = unquote(service).partition(".")
    if not service or not function:
        return None
    return ProxyPath(service, qualifier if dot else None, unquote(function), "/" + sub if slash else "/")


def local_url(url: str, endpoint: str) -> str | None:
    """``url`` on this server (``endpoint``) if it is an HTTP trigger's URL on Function Compute's
    endpoint (the path and query kept), else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not is_fc_host(parts.netloc):
        return None
    if not parts.path.startswith(PROXY_PREFIX):
        return None
    return endpoint.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def localize(text: str, endpoint: str) -> str:
    """``text`` with every URL on Function Compute's endpoint moved to this server."""

    def local(match: re.Match[str]) -> str:
        return endpoint.rstrip("/") if is_fc_host(match.group(1)) else match.group(0)

    return _FC_URL.sub(local, text)
