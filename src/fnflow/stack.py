"""OpenFaaS stack files (``stack.yml``): the functions they describe, as fnflow deploys them.

The file is read as faas-cli reads it — ``${VAR}`` and ``${VAR:-default}`` substituted from the
environment first, ``environment_file`` entries merged over ``environment`` — and each function
is mapped by ``fnflow.functions.openfaas``. A ``dockerfile`` function's ``fprocess`` may come from
its Dockerfile (``ENV fprocess="sleep 1"``), as the OpenFaaS labs write it. What fnflow builds
nothing from (build options, constraints…) comes back as ``Ignored`` notes; the image is kept as
metadata, and secrets are read from fnflow's secret store.
Nothing here writes or deploys; ``fnflow up`` does.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fnflow.errors import InvalidArgument
from fnflow.functions.config import FunctionConfig
from fnflow.functions.naming import service_of
from fnflow.functions.openfaas import Deployment, Ignored, function_config

PROVIDERS = ("openfaas", "faas")
# Top-level and per-function fields that mean nothing without containers, and why.
IGNORED_TOP = {
    "configuration": "fnflow uses no templates and builds no images",
}
IGNORED_FIELDS = {
    "skip_build": "fnflow builds nothing",
    "build_options": "fnflow builds nothing",
    "build_args": "fnflow builds nothing",
    "build_secrets": "fnflow builds nothing",
    "platforms": "fnflow builds nothing",
    "constraints": "fnflow places no containers",
    "requests": "fnflow reserves nothing ahead of calls",
    "readonly_root_filesystem": "functions run as processes of the server's user, not containers",
}
KNOWN_FIELDS = {
    "image",
    "secrets",
    "namespace",
    "lang",
    "handler",
    "fprocess",
    "environment",
    "environment_file",
    "labels",
    "annotations",
    "limits",
}
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
DOCKERFILE_ENV = re.compile(r"^\s*ENV\s+(.*)$", re.IGNORECASE)


class StackError(ValueError):
    """The stack file cannot be read or describes a function fnflow cannot run."""


@dataclass(frozen=True)
class StackFunction:
    config: FunctionConfig
    code_dir: Path | None  # the handler folder, when the function has code to deploy


@dataclass(frozen=True)
class Stack:
    path: Path
    gateway: str  # provider.gateway ("" if the file names none)
    functions: list[StackFunction]
    ignored: list[Ignored]


def envsubst(text: str, environ: Mapping[str, str]) -> str:
    """``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` (or ``=``), as faas-cli substitutes.

    ``:-`` uses the default when the variable is unset or empty, ``-`` only when it is unset; an
    unset variable without a default is empty.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3) or ""
        current = environ.get(name)
        if operator is None:
            return current or ""
        if current is None or (operator.startswith(":") and not current):
            return default
        return current

    return VARIABLE.sub(value, text)


def load_stack(
    path: Path,
    *,
    service: str | None = None,
    select: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Stack:
    """Read a stack file; ``select`` is a wildcard (``resize-*``) that picks functions by name.

    Functions go to ``service`` if given, else to the service named like their ``namespace``
    (OpenFaaS' ``openfaas-fn``, or none, is fnflow's default service).
    """
    try:
        text = envsubst(path.read_text(), os.environ if environ is None else environ)
        doc = yaml.safe_load(text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise StackError(f"{path}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("functions"), dict):
        raise StackError(f"{path}: a stack file needs a 'functions' mapping")
    provider = doc.get("provider") or {}
    if not isinstance(provider, dict) or provider.get("name", "openfaas") not in PROVIDERS:
        raise StackError(f"{path}: provider.name must be openfaas")
    ignored = [Ignored("", key, reason) for key, reason in IGNORED_TOP.items() if key in doc]
    ignored += [
        Ignored("", key, "not a stack file field")
        for key in doc
        if key not in ("version", "provider", "functions", *IGNORED_TOP)
    ]
    functions = []
    for name, fields in doc["functions"].items():
        if select is not None and not fnmatch.fnmatchcase(str(name), select):
            continue
        try:
            function, notes = _function(path.parent, str(name), fields or {}, service)
        except (OSError, UnicodeDecodeError, ValueError, InvalidArgument) as e:
            raise StackError(f"{path}: function {name}: {e}") from None
        functions.append(function)
        ignored += notes
    if select is not None and not functions:
        raise StackError(f"{path}: no function matches {select!r}")
    return Stack(path, str(provider.get("gateway") or ""), functions, ignored)


def _function(
    base: Path, name: str, fields: dict[str, Any], service: str | None
) -> tuple[StackFunction, list[Ignored]]:
    if not isinstance(fields, dict):
        raise ValueError("its settings must be a mapping")
    if service is None:
        service = service_of(str(fields.get("namespace") or ""))
    notes = [Ignored(name, key, reason) for key, reason in IGNORED_FIELDS.items() if key in fields]
    notes += [
        Ignored(name, key, "not a stack file field")
        for key in fields
        if key not in KNOWN_FIELDS and key not in IGNORED_FIELDS
    ]
    lang = str(fields.get("lang", ""))
    handler = base / str(fields["handler"]) if fields.get("handler") else None
    environment = _strings(fields.get("environment"), "environment")
    for env_file in _list(fields.get("environment_file"), "environment_file"):
        environment.update(_environment_file(base / env_file))
    fprocess = str(fields.get("fprocess") or "")
    if lang == "dockerfile" and not fprocess and "fprocess" not in environment and handler is not None:
        fprocess = dockerfile_fprocess(handler / "Dockerfile")
    deployment = Deployment(
        name=name,
        lang=lang,
        fprocess=fprocess,
        environment=environment,
        labels=_strings(fields.get("labels"), "labels"),
        annotations=_strings(fields.get("annotations"), "annotations"),
        limits=_strings(fields.get("limits"), "limits"),
        image=str(fields.get("image") or ""),
        requests=_strings(fields.get("requests"), "requests"),
        secrets=tuple(_list(fields.get("secrets"), "secrets")),
        constraints=tuple(_list(fields.get("constraints"), "constraints")),
        read_only_root_filesystem=bool(fields.get("readonly_root_filesystem", False)),
    )
    config, mapped = function_config(deployment, service=service)
    config.validate()
    code_dir = handler if handler is not None and _has_files(handler) else None
    if config.needs_code and code_dir is None:
        raise ValueError(f"the handler folder {fields.get('handler') or '(none)'} has no code")
    if config.runtime == "http":
        code_dir = None  # a proxy runs no code
    return StackFunction(config, code_dir), notes + mapped


def dockerfile_fprocess(dockerfile: Path) -> str:
    """The last ``ENV fprocess`` of a Dockerfile ("" if it sets none, or has no Dockerfile)."""
    if not dockerfile.is_file():
        return ""
    found = ""
    for line in dockerfile.read_text().splitlines():
        match = DOCKERFILE_ENV.match(line)
        if match is None:
            continue
        words = shlex.split(match.group(1))
        if words and "=" not in words[0]:  # the legacy form: ENV fprocess sleep 1
            if words[0] == "fprocess":
                found = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            if key == "fprocess":
                found = value
    return found


def _environment_file(path: Path) -> dict[str, str]:
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path.name}: an environment file is a mapping with an 'environment' key")
    return _strings(doc.get("environment"), f"{path.name}: environment")


def _strings(value: object, what: str) -> dict[str, str]:
    """A mapping of strings; YAML's numbers and booleans as Go's YAML would read them into strings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping")
    return {str(k): _text(v) for k, v in value.items()}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _list(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return [str(v) for v in value]


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))
