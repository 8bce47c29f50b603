"""The API's routers are included in the order of their traffic (``fnflow.api.app.ROUTERS``): that is
safe only while no two routes take the same request, so that the order decides how soon FastAPI
finds a request's route and never which route it is."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Match

from fnflow.api.app import ROUTERS

ROUTES = [route for module in ROUTERS for route in module.router.routes if isinstance(route, APIRoute)]


def test_no_two_routes_take_the_same_request() -> None:
    assert len(ROUTES) > 50
    for route in ROUTES:
        path = re.sub(r"\{[^}]+\}", "x1", route.path)  # a value for each parameter
        for method in route.methods:
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            taking = [other.path for other in ROUTES if other.matches(dict(scope))[0] == Match.FULL]
            assert taking == [route.path], f"{method} {path}"


def test_every_router_is_included_once() -> None:
    names = [module.__name__ for module in ROUTERS]
    assert len(names) == len(set(names))
