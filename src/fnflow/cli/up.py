"""``fnflow up``: deploy the functions of an OpenFaaS stack file, as ``faas-cli up`` does, without images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fnflow.cli.common import Format, Output, Url, connect, fail
from fnflow.cli.functions import say
from fnflow.client import Client, ConflictError, Function
from fnflow.client.api import DEFAULT_SERVICE
from fnflow.functions import codepkg
from fnflow.stack import StackError, load_stack


def up(
    file: Annotated[
        Path, typer.Option("--file", "-f", "--yaml", help="The stack file.", dir_okay=False)
    ] = Path("stack.yml"),
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="Deploy only the functions whose names match this wildcard."),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            "-s",
            show_default="the function's namespace; openfaas-fn or none is the default service",
            help="Deploy every function into this service.",
        ),
    ] = None,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish", help="Then publish each service deployed to as a new version (if anything changed)."
        ),
    ] = False,
    alias: Annotated[
        str | None,
        typer.Option(help="Then point this alias of each service at its newest version (implies --publish)."),
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Deploy (create or update) the functions of an OpenFaaS stack.yml.

    The handler folder is the code (its requirements.txt is installed by the server first, with
    pip's output on stderr); lang python3, python3-http, python3-flask and python3-fc run
    in fnflow's Python workers, dockerfile (or any fprocess) as a command. What needs containers
    (image, secrets, build options…) is ignored, with a warning for each. The server is --url,
    else FNFLOW_URL, else the stack's provider.gateway.

    Example:

        fnflow new hello --lang python3 && fnflow up -f stack.yml
        echo hi | curl --data-binary @- http://127.0.0.1:8080/function/hello
        fnflow up -f stack.yml --alias prod     # deploy, publish a version, move alias prod to it
    """
    try:
        stack = load_stack(file, service=service, select=filter_)
        packages = [codepkg.pack_directory(f.code_dir) if f.code_dir else None for f in stack.functions]
    except (StackError, ValueError) as e:
        fail(str(e))
    for note in stack.ignored:
        typer.echo(f"Warning: {note}", err=True)
    deployed: list[Function] = []
    with connect(url or stack.gateway or None) as client:
        for function, code in zip(stack.functions, packages, strict=True):
            deployed.append(client.deploy(function.config, code, progress=say))
            if output is Format.text:
                done = deployed[-1]
                typer.echo(f"Deployed: {done.name} ({done.runtime})")
                typer.echo(f"URL: {client.url}/function/{_gateway_name(done)}")
        released = _release(
            client, sorted({f.service for f in deployed}), publish or alias is not None, alias
        )
        if output is Format.text:
            for line in released:
                typer.echo(line)
    if output is Format.json:
        doc: dict[str, Any] = {
            "functions": [f.raw for f in deployed],
            "released": released,
            "ignored": [
                {"function": n.function, "field": n.field, "reason": n.reason} for n in stack.ignored
            ],
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _release(client: Client, services: list[str], publish: bool, alias: str | None) -> list[str]:
    """Publish each service as a new version (nothing changed: its newest stays) and move ``alias``."""
    done: list[str] = []
    if not publish:
        return done
    for service in services:
        try:
            version = client.publish_version(service, "fnflow up").version_id
            done.append(f"Published: service {service} version {version}")
        except ConflictError:  # nothing changed since the newest version
            newest = client.list_versions(service)
            if not newest:
                raise
            version = newest[0].version_id
            done.append(f"Unchanged: service {service} version {version}")
        if alias is not None:
            client.set_alias(service, alias, version)
            done.append(f"Alias: {alias} of service {service} -> version {version}")
    return done


def _gateway_name(f: Function) -> str:
    """The gateway's name for it: ``name``, or ``name.service`` outside the default service."""
    return f.name if f.service == DEFAULT_SERVICE else f"{f.name}.{f.service}"
