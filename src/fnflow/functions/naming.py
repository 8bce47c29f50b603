"""OpenFaaS function names: ``function`` or ``function.namespace``; fnflow's namespace is the service."""

from __future__ import annotations

from fnflow.functions.config import DEFAULT_SERVICE


def split_name(name: str) -> tuple[str, str]:
    """(service, function) of ``function`` or ``function.service``."""
    function, _, service = name.rpartition(".")
    return (service, function) if function else (DEFAULT_SERVICE, service)


def metric_name(service: str, function: str) -> str:
    """The ``function_name`` label OpenFaaS uses: the name, with ``.namespace`` outside the default."""
    return function if service == DEFAULT_SERVICE else f"{function}.{service}"
