"""The Alibaba routes — FnF's RPC API, MNS's queue and topic API, Function Compute's HTTP
triggers — as OpenAPI paths, built from the tables the routes themselves are served from."""

from __future__ import annotations

import re
from typing import Any

from fnflow.compat.alibaba import actions, fc
from fnflow.compat.alibaba.mns import routes

XML = {"application/xml": {"schema": {"type": "string"}}}
ANY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
SIGNED = "Signed as Alibaba's SDKs sign (see docs/alibaba.md); the key's scopes apply."


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def _rpc() -> dict[str, Any]:
    names = sorted(actions.ACTIONS)
    parameters = [
        {
            "name": "Action",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "enum": names},
            "description": "or the x-acs-action header (ROA-style signing)",
        },
        {"name": "Version", "in": "query", "schema": {"type": "string", "enum": [actions.VERSION]}},
    ]
    operation = {
        "tags": ["alibaba"],
        "summary": "FnF's RPC API (aliyun-python-sdk-fnf): one action per request",
        "description": f"Parameters as FnF's API reference names them. {SIGNED} Actions: {', '.join(names)}.",
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "the action's fields and a RequestId",
                "content": {"application/json": {}},
            },
            "4XX": {
                "description": "FnF's error: Code, Message, RequestId",
                "content": {"application/json": {}},
            },
        },
    }
    return {"get": operation, "post": operation}


def _mns() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, served in routes.TABLE:
        paths.setdefault(path, {})[method.lower()] = {
            "tags": ["alibaba"],
            "summary": f"MNS: {served}",
            "description": f"MNS's XML API (aliyun-mns). {SIGNED}",
            "parameters": _path_parameters(path),
            **({"requestBody": {"required": False, "content": XML}} if method in ("PUT", "POST") else {}),
            "responses": {
                "2XX": {"description": "MNS's answer", "content": XML},
                "4XX": {"description": "MNS's error", "content": XML},
            },
        }
    return paths


def _http_trigger() -> dict[str, Any]:
    path = f"{fc.PROXY_PREFIX}{{service}}/{{function}}/{{path}}"
    operation = {
        "tags": ["alibaba"],
        "summary": "Function Compute HTTP trigger: the request goes to the function as it came",
        "description": "{service} may end in .LATEST; the trigger's authType decides if a key is needed.",
        "parameters": _path_parameters(path),
        "requestBody": {"required": False, "content": ANY},
        "responses": {"200": {"description": "the function's own answer", "content": ANY}},
    }
    return {path: {method: operation for method in ("get", "post", "put", "patch", "delete", "head")}}


def paths() -> dict[str, Any]:
    """Every Alibaba route; ``/`` is FnF's RPC API when the request names an ``Action``."""
    return {"/": _rpc(), **_mns(), **_http_trigger()}
