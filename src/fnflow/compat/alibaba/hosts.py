"""FnF's endpoint names, which fnflow answers for when a request names them (as a proxy is asked,
or with a ``Host`` that is one of them).

The SDKs build them from the region: ``cn-hangzhou.fnf.aliyuncs.com`` (the four regions of the
SDK's endpoint map), ``fnf.<region>.aliyuncs.com`` (every other region), ``fnf-<network>.<region>
.aliyuncs.com`` (a network such as vpc), and ``<region>-internal.fnf.aliyuncs.com`` (set by hand
inside Alibaba's network).
"""

from __future__ import annotations

import functools
import re

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_FNF_HOST = re.compile(
    rf"^(?:{_LABEL}\.fnf|fnf(?:-{_LABEL})?\.{_LABEL})\.aliyuncs\.com\.?$",
)


def hostname(authority: str) -> str:
    """``host`` of ``host[:port]`` (or ``[v6]:port``), lower case."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


@functools.lru_cache(maxsize=256)  # asked on every request, of the few hosts a server is called by
def is_fnf_host(authority: str) -> bool:
    return bool(_FNF_HOST.match(hostname(authority)))
