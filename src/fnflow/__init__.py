"""fnflow: durable FDL workflows and functions invoked sync or async, self-hosted on SQLite or PostgreSQL."""

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fnflow.client import *  # noqa: F403

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``fnflow.Client``, its results and errors, ``fnflow.verify_callback``: imported on first use,
    because function workers import fnflow too. ``from fnflow import <module>`` asks here first:
    a module of the package is imported alone (importing the client, and httpx, there tripled what
    a function worker's start cost)."""
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    client = importlib.import_module("fnflow.client")
    if name in client.__all__:
        return getattr(client, name)
    raise AttributeError(f"module 'fnflow' has no attribute {name!r}")
