"""fnflow: durable FDL workflows and functions invoked sync or async, self-hosted on SQLite or PostgreSQL."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fnflow.client import *  # noqa: F403

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``fnflow.Client``, its results and errors, ``fnflow.verify_callback``: imported on first use,
    because function workers import fnflow too."""
    client = importlib.import_module("fnflow.client")
    if name in client.__all__:
        return getattr(client, name)
    raise AttributeError(f"module 'fnflow' has no attribute {name!r}")
