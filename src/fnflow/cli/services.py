"""``fnflow service``: publish service versions, and point aliases at them (Function Compute's)."""

from __future__ import annotations

from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, Output, Url, connect, emit
from fnflow.client import Alias, ServiceVersion

app = typer.Typer(
    help="Service versions (immutable snapshots of a service's functions) and aliases.",
    no_args_is_help=True,
)
alias_app = typer.Typer(help="Aliases: a name for a version, optionally with a canary.", no_args_is_help=True)
app.add_typer(alias_app, name="alias")


def _version(v: ServiceVersion) -> str:
    return render.fields(
        [
            ("service", v.service),
            ("version", v.version_id),
            ("functions", " ".join(v.functions)),
            ("description", v.description),
            ("created", render.when(v.created_time)),
        ]
    )


def _weights(a: Alias) -> str:
    return " ".join(f"{version}:{weight:g}" for version, weight in a.additional_version_weight.items())


def _alias(a: Alias) -> str:
    return render.fields(
        [
            ("service", a.service),
            ("alias", a.name),
            ("version", a.version_id),
            ("additional version weight", _weights(a)),
            ("reserved instances", str(a.reserved_instances) if a.reserved_instances else ""),
            ("description", a.description),
        ]
    )


@app.command()
def publish(
    service: str,
    description: Annotated[str, typer.Option(help="What changed in this version.")] = "",
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Publish the service's functions as they are now as its next version (refused when nothing
    changed since the last one).

    Example:

        fnflow service publish shop --description "faster checkout"
    """
    with connect(url) as client:
        version = client.publish_version(service, description)
    emit(output, version.raw, lambda: _version(version))


@app.command()
def versions(service: str, url: Url = None, output: Output = Format.text) -> None:
    """List the service's versions, newest first."""
    with connect(url) as client:
        found = client.list_versions(service)
    rows = [
        (v.version_id, render.when(v.created_time), " ".join(v.functions), render.clip(v.description, 50))
        for v in found
    ]
    emit(
        output,
        {"versions": [v.raw for v in found]},
        lambda: render.table(("VERSION", "CREATED", "FUNCTIONS", "DESCRIPTION"), rows),
    )


@app.command("delete-version")
def delete_version(service: str, version: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete a version (refused while an alias uses it)."""
    with connect(url) as client:
        client.delete_version(service, version)
    emit(output, None, lambda: f"deleted version {version} of service {service}")


@alias_app.command("set")
def set_alias(
    service: str,
    alias: str,
    version: Annotated[str, typer.Option("--version", "-v", help="The version the alias names.")],
    weight: Annotated[
        list[str] | None,
        typer.Option(
            "--weight",
            help="VERSION=SHARE: one more version gets this share (0-1) of the calls, e.g. 2=0.1.",
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="What the alias is for.")] = "",
    reserved: Annotated[
        int,
        typer.Option(
            min=0, help="Instances of each function of its version every server keeps started (reserved)."
        ),
    ] = 0,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create or change an alias; with --weight, a canary: a share of calls go to another version.

    Examples:

        fnflow service alias set shop prod --version 1
        fnflow service alias set shop prod --version 1 --weight 2=0.1   # 10% to version 2
        fnflow service alias set shop prod --version 2 --reserved 2     # 2 warm instances per function
    """
    weights: dict[str, float] = {}
    for item in weight or []:
        other, sep, share = item.partition("=")
        try:
            weights[other.strip()] = float(share)
        except ValueError:
            sep = ""
        if not sep or not other.strip():
            raise typer.BadParameter(f"{item!r} is not VERSION=SHARE (e.g. 2=0.1)", param_hint="--weight")
    with connect(url) as client:
        found = client.set_alias(service, alias, version, weights or None, description, reserved)
    emit(output, found.raw, lambda: _alias(found))


@alias_app.command("list")
def list_aliases(service: str, url: Url = None, output: Output = Format.text) -> None:
    """List the service's aliases."""
    with connect(url) as client:
        found = client.list_aliases(service)
    rows = [
        (a.name, a.version_id, _weights(a), str(a.reserved_instances), render.clip(a.description, 50))
        for a in found
    ]
    emit(
        output,
        {"aliases": [a.raw for a in found]},
        lambda: render.table(("ALIAS", "VERSION", "ADDITIONAL", "RESERVED", "DESCRIPTION"), rows),
    )


@alias_app.command("get")
def get_alias(service: str, alias: str, url: Url = None, output: Output = Format.text) -> None:
    """Show one alias."""
    with connect(url) as client:
        found = client.get_alias(service, alias)
    emit(output, found.raw, lambda: _alias(found))


@alias_app.command("delete")
def delete_alias(service: str, alias: str, url: Url = None, output: Output = Format.text) -> None:
    """Delete an alias."""
    with connect(url) as client:
        client.delete_alias(service, alias)
    emit(output, None, lambda: f"deleted alias {alias} of service {service}")
