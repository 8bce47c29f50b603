"""``fnflow deploy -t template.yml``: an Alibaba app (a ROS or Funcraft template) as a stack, and
``fnflow stack list|get|delete``.

The template is read here (its code too) and turned into a plan; the server checks the plan
whole and applies it, or changes nothing. A stack remembers what it deployed, so deploying an
edited template updates in place and removes what the template no longer has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fnflow.cli import render
from fnflow.cli.common import Format, Output, Url, connect, emit, fail
from fnflow.client.stacks import StackChange

app = typer.Typer(help="List, show and delete stacks (what `fnflow deploy` deployed).", no_args_is_help=True)


def _parameters(values: list[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            fail(f"--parameter takes NAME=VALUE, not {value!r}")
        given[key] = text
    return given


def _changes(changes: list[StackChange]) -> str:
    rows = [(c.action, c.kind, c.name, c.logical_id) for c in changes]
    return render.table(("ACTION", "KIND", "NAME", "RESOURCE"), rows) if rows else "nothing"


def deploy(
    template: Annotated[
        Path,
        typer.Option(
            "--template", "-t", help="The template: ROS, or Funcraft's template.yml.", dir_okay=False
        ),
    ] = Path("template.yml"),
    stack: Annotated[
        str | None,
        typer.Option("--stack-name", help="The stack (default: the template's folder name)."),
    ] = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", "-p", help="A template parameter, NAME=VALUE (repeat for more)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and say what would change; change nothing.")
    ] = False,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Deploy an Alibaba app: its functions (with HTTP and timer triggers), flows, schedules,
    queues and topics, all or nothing. Paths in the template are relative to its folder.

    Example:

        fnflow deploy -t examples/async-http-jobs/template.yml
        curl -X POST 'http://127.0.0.1:8080/2016-08-15/proxy/DemoService/HttpAPI/start?flowName=AsyncJob'
    """
    from fnflow.compat.alibaba import ros  # the template reader (YAML, code packaging) only loads here

    if not template.is_file():
        fail(f"{template}: no such template")
    name = stack or ros.stack_name(template)
    given = _parameters(parameter or [])
    with connect(url) as client:
        info = client.system_info()
        options = ros.Options(name, info["region"], info["accountId"], given, endpoint=client.url)
        try:
            loaded = ros.load(template, options)
        except ros.TemplateError as e:
            fail(
                f"{template} cannot be deployed, so nothing was:\n" + "\n".join(f"  {p}" for p in e.problems)
            )
        except OSError as e:
            fail(f"{template}: {e.strerror or e}")
        draft = loaded.draft
        for warning in draft.warnings:
            typer.echo(f"Warning: {warning}", err=True)
        report = client.deploy_stack(name, loaded.plan, description=draft.description, dry_run=dry_run)
    outputs = {o.name: o.value for o in draft.outputs}
    doc: dict[str, Any] = {
        **report.raw,
        "outputs": outputs,
        "warnings": [w.to_dict() for w in draft.warnings],
    }

    def text() -> str:
        verb = "would change" if dry_run else "deployed"
        lines = [f"stack {name} {verb}:", _changes(report.changes)]
        if outputs:
            lines += ["", "Outputs:"]
            lines += [f"  {k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in outputs.items()]
        return "\n".join(lines)

    emit(output, doc, text)


@app.command("list")
def list_(url: Url = None, output: Output = Format.text) -> None:
    """The stacks, with how many resources each deployed."""
    with connect(url) as client:
        stacks = client.list_stacks()
    rows = [
        (s.name, str(len(s.resources)), render.when(s.last_modified_time), render.clip(s.description, 60))
        for s in stacks
    ]
    emit(
        output,
        {"stacks": [s.raw for s in stacks]},
        lambda: render.table(("NAME", "RESOURCES", "UPDATED", "DESCRIPTION"), rows),
    )


@app.command()
def get(name: str, url: Url = None, output: Output = Format.text) -> None:
    """What a stack deployed."""
    with connect(url) as client:
        found = client.get_stack(name)
    rows = [(r.kind, r.name, r.logical_id) for r in found.resources]
    emit(output, found.raw, lambda: render.table(("KIND", "NAME", "RESOURCE"), rows))


@app.command()
def delete(name: str, url: Url = None, output: Output = Format.text) -> None:
    """Remove everything a stack deployed (refused while its flows run), then the stack."""
    with connect(url) as client:
        report = client.delete_stack(name)
    emit(output, report.raw, lambda: f"stack {name} deleted:\n{_changes(report.changes)}")
