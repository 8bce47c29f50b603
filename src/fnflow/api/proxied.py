"""Requests sent to fnflow as to a proxy: ``GET http://host/path HTTP/1.1`` (absolute form).

An SDK told ``HTTP_PROXY=http://<fnflow>`` sends its requests that way. uvicorn's h11 protocol
keeps such a target in the scope's ``path``; its httptools protocol keeps only the path, so the
server runs ``HttpToolsProtocol`` below, which also records the target's authority in the scope's
extensions. ``authority`` reads either.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from starlette.types import Scope

from fnflow.config import is_loopback

EXTENSION = "fnflow.absolute_target"


def authority(scope: Scope) -> str | None:
    """``host[:port]`` of a request made in absolute form; None for an ordinary request."""
    extension = scope.get("extensions", {}).get(EXTENSION)
    if extension is not None:
        return str(extension["authority"])
    path: str = scope.get("path", "")
    if path.startswith(("http://", "https://")):
        return urlsplit(path).netloc
    return None


def origin_path(scope: Scope) -> str:
    """The path of the request, also of one made in absolute form."""
    path: str = scope.get("path", "")
    if path.startswith(("http://", "https://")):
        return urlsplit(path).path or "/"
    return path


def as_origin(scope: Scope) -> Scope:
    """``scope`` with an absolute target made an ordinary one (``/path``)."""
    path = origin_path(scope)
    if path == scope.get("path"):
        return scope
    return {**scope, "path": path, "raw_path": path.encode()}


def names_server(target: str, scope: Scope, endpoint: str) -> bool:
    """Whether ``target`` (``host[:port]``) is this server: its public endpoint, or the port it
    listens on at a loopback address or the address it was reached at. A client whose
    ``HTTP_PROXY`` is fnflow sends its requests for fnflow itself this way too."""
    if target.lower() == urlsplit(endpoint).netloc.lower():
        return True
    parts = urlsplit(f"//{target}")
    try:
        port = parts.port or 80
    except ValueError:
        return False
    host = parts.hostname or ""
    server = scope.get("server") or ("", None)
    return port == server[1] and (is_loopback(host) or host == server[0])


def http_protocol() -> type[asyncio.Protocol] | str:
    """The protocol class for ``uvicorn.Config(http=…)``: httptools' telling absolute targets, or
    uvicorn's choice when httptools is not installed (then h11, which keeps them in the path)."""
    try:
        import httptools
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class AbsoluteTargets(HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            if self.url[:1] not in (b"/", b"*"):
                try:
                    host = httptools.parse_url(self.url)
                except httptools.HttpParserInvalidURLError:
                    host = None
                if host is not None and host.host:
                    netloc = host.host + (b":%d" % host.port if host.port else b"")
                    extensions = self.scope.setdefault("extensions", {})
                    extensions[EXTENSION] = {"authority": netloc.decode("latin-1")}
            super().on_headers_complete()

    return AbsoluteTargets
