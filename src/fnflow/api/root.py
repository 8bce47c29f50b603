"""Typed access from a request to the application object (the composition root, ``fnflow.app``).

Routes call ``root(request)`` rather than reading ``request.app.state`` themselves: one place
knows where the object is kept, and every use is typed.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

from fnflow.app import Fnflow


def attach(app: ASGIApp, fnflow: Fnflow) -> None:
    """Keep ``fnflow`` on the ASGI application ``app`` (a FastAPI or Starlette one) for its routes."""
    app.state.fnflow = fnflow  # type: ignore[attr-defined]


def root(request: HTTPConnection) -> Fnflow:
    """The application object serving ``request``."""
    fnflow = request.app.state.fnflow
    assert isinstance(fnflow, Fnflow), "the API was built without fnflow.api.root.attach"
    return fnflow
