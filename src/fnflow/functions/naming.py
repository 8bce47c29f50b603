"""OpenFaaS function names: ``function`` or ``function.namespace``; fnflow's namespace is the service."""

from __future__ import annotations

from fnflow.functions.config import DEFAULT_SERVICE

DEFAULT_NAMESPACE = "openfaas-fn"  # OpenFaaS' namespace for functions: fnflow's default service


def service_of(namespace: str | None) -> str:
    """The service an OpenFaaS namespace names (``openfaas-fn``, or none, is the default one)."""
    return namespace if namespace and namespace != DEFAULT_NAMESPACE else DEFAULT_SERVICE


def namespace_of(service: str) -> str:
    """The OpenFaaS namespace of a service: ``openfaas-fn`` for the default one, else its name."""
    return DEFAULT_NAMESPACE if service == DEFAULT_SERVICE else service


def split_name(name: str) -> tuple[str, str]:
    """(service, function) of ``function`` or ``function.namespace``."""
    function, _, namespace = name.rpartition(".")
    return (service_of(namespace), function) if function else (DEFAULT_SERVICE, namespace)


def split_qualified(name: str) -> tuple[str, str, str]:
    """(service, function, qualifier) of ``function[.namespace[.qualifier]]``: the gateway's names,
    where a third part names a service version or alias (``LATEST`` when there is none)."""
    parts = name.split(".")
    if len(parts) == 3 and parts[2]:
        return service_of(parts[1]), parts[0], parts[2]
    if len(parts) > 3:
        return DEFAULT_SERVICE, name, "LATEST"  # no such function: its lookup says so
    service, function = split_name(name)
    return service, function, "LATEST"


def metric_name(service: str, function: str) -> str:
    """The ``function_name`` label OpenFaaS uses: the name, with ``.namespace`` outside the default."""
    return function if service == DEFAULT_SERVICE else f"{function}.{service}"
