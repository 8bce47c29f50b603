"""``fnflow fn``: deploy, invoke, show, list and delete functions."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli import render
from fnflow.cli.common import EXIT_FAILED, Format, Output, Url, connect, emit, fail, read_arg, write_body
from fnflow.client import Client, Function, LogLine
from fnflow.client.api import DEFAULT_SERVICE
from fnflow.functions import openfaas

app = typer.Typer(help="Deploy, invoke, show, list and delete functions.", no_args_is_help=True)

Service = Annotated[str, typer.Option("--service", "-s", help="The service the function belongs to.")]


def show(f: Function) -> str:
    policy = f.async_policy
    return render.fields(
        [
            ("function", f"{f.service}/{f.name}"),
            ("runtime", f.runtime),
            ("handler", f.handler),
            ("command", f.command),
            ("upstream", f.upstream),
            ("timeout", f"{f.timeout:g}s"),
            ("memory", f"{f.memory_mb} MB"),
            ("max instances", str(f.max_instances)),
            ("warm instances", str(f.min_instances)),
            ("environment", _pairs(f.environment)),
            ("annotations", _pairs(f.annotations)),
            ("labels", _pairs(f.labels)),
            ("secrets", " ".join(f.secrets)),
            ("secret environment", _pairs(f.secret_environment)),
            ("async retries", f"{policy.retries} on {','.join(map(str, policy.retry_codes))}"),
            ("async queue", policy.queue),
            ("description", f.description),
            ("code sha256", f.code_checksum),
            ("layers", " ".join(f"{name}@{checksum[:12]}" for name, checksum in f.layers)),
            *_dependencies(f),
            ("created", render.when(f.created_time)),
            ("modified", render.when(f.last_modified_time)),
        ]
    )


def _dependencies(f: Function) -> list[tuple[str, str]]:
    """The environment its requirements.txt made: hash, Python, what it asked for and has."""
    deps = f.dependencies
    if deps is None:
        return []
    return [
        ("environment", f"{deps.hash} ({deps.python})"),
        ("requirements", " ".join(deps.requirements)),
        ("packages", " ".join(f"{name}=={version}" for name, version in deps.packages)),
    ]


def say(line: str) -> None:
    """A progress line of the server's, on stderr (stdout is for the result)."""
    typer.echo(line, err=True)


def _pairs(values: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(values.items()))


def _key_values(pairs: list[str] | None, option: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` options, in order."""
    found = []
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        found.append((key, value))
    return found


def _mapping(pairs: list[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict (the last of a repeated key wins)."""
    return dict(_key_values(pairs, option))


@app.command()
def deploy(
    name: str,
    code: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="Directory with the code (zipped and uploaded); omit to keep the code,"
            " or for a command or http function that has none.",
        ),
    ] = None,
    service: Service = DEFAULT_SERVICE,
    runtime: Annotated[
        str,
        typer.Option(help="python3, python3-http, python3-flask, python3-classic, command or http."),
    ] = "python3",
    handler: Annotated[
        str,
        typer.Option(
            help="module.function to call (python runtimes).",
            show_default="index.handler for python3, handler.handle for the others",
        ),
    ] = "",
    command: Annotated[
        str, typer.Option(help="command runtime: the process to start per call, e.g. 'sleep 1'.")
    ] = "",
    upstream: Annotated[str, typer.Option(help="http runtime: the URL calls are proxied to.")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds an invocation may run.")] = 60,
    memory: Annotated[int, typer.Option(help="Memory in MB.")] = 128,
    max_instances: Annotated[int, typer.Option(help="Instances running at once, at most.")] = 4,
    min_instances: Annotated[
        int, typer.Option(help="Warm instances each server keeps started (python runtimes).")
    ] = 0,
    env: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE environment variable; repeat for more.")
    ] = None,
    annotation: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE annotation (com.openfaas.queue, com.openfaas.retry.*…); repeatable."),
    ] = None,
    label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE label; repeatable.")] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(help="A secret the function reads as a file in $OPENFAAS_SECRETS_PATH; repeatable."),
    ] = None,
    secret_env: Annotated[
        list[str] | None,
        typer.Option(help="VARIABLE=SECRET: an environment variable holding a secret's value; repeatable."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the function does.")] = "",
    layer: Annotated[
        list[Path] | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="A layer: a folder of packages (in python/, as Function Compute lays them out) put on"
            " the function's import path; repeat for more, in import order.",
        ),
    ] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create or update a function.

    A requirements.txt in the code folder is installed by the server (with pip, as its pip
    configuration says) before the function changes; its output is shown on stderr. If it
    fails, the function stays as it was. Packages vendored in the code (python/,
    .fun/python/lib/python3.X/site-packages) and layers (--layer) need no install.

    The OpenFaaS annotations com.openfaas.queue and com.openfaas.retry.attempts, .codes,
    .min_wait and .max_wait set how asynchronous calls are queued and retried.

    Examples:

        fnflow fn deploy hello --code ./hello --handler index.handler --env GREETING=hi
        fnflow fn deploy report --code ./report --layer ./layers/pandas
        fnflow fn deploy long-task --runtime command --command 'sleep 1'
        fnflow fn deploy remote --runtime http --upstream http://127.0.0.1:5000/
    """
    annotations = _mapping(annotation, "--annotation")
    policy = openfaas.async_policy(
        annotations, lambda what, why: typer.echo(f"fnflow: warning: {what} ignored: {why}", err=True)
    )
    with connect(url) as client:
        function = client.deploy_function(
            name,
            code,
            service=service,
            runtime=runtime,
            handler=handler,
            command=command,
            upstream=upstream,
            timeout=timeout,
            memory_mb=memory,
            max_instances=max_instances,
            min_instances=min_instances,
            secrets=secret or [],
            secret_environment=_mapping(secret_env, "--secret-env"),
            environment=_mapping(env, "--env"),
            annotations=annotations,
            labels=_mapping(label, "--label"),
            description=description,
            async_policy=policy,
            layers=layer or [],
            progress=say,
        )
    emit(output, function.raw, lambda: show(function))


@app.command()
def invoke(
    name: str,
    service: Service = DEFAULT_SERVICE,
    async_: Annotated[
        bool,
        typer.Option(
            "--async",
            "-a",
            help="Queue the call (/async-function/) and print its call id instead of waiting.",
        ),
    ] = False,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", "-d", help="The body: text, or @file. Default: stdin unless it is a terminal."
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="'Key: Value' (or Key=Value) request header; repeatable."),
    ] = None,
    query: Annotated[list[str] | None, typer.Option(help="k=v query parameter; repeatable.")] = None,
    method: Annotated[str, typer.Option("--method", "-m", help="HTTP method (--async: POST only).")] = "POST",
    content_type: Annotated[str | None, typer.Option(help="The body's Content-Type.")] = None,
    path: Annotated[str, typer.Option(help="Sub-path the function sees, e.g. /items/1.")] = "",
    qualifier: Annotated[
        str, typer.Option("--qualifier", help="A service version or alias to call (default: LATEST).")
    ] = "LATEST",
    url: Url = None,
    output: Annotated[
        Format, typer.Option("--output", "-o", help='With --async: json prints {"callId": …}.')
    ] = Format.text,
) -> None:
    """Invoke a function through the gateway, as faas-cli invoke does, and print its response body.

    Exits 1 if the function answers with a status other than 2xx (its body is printed all the
    same), 2 if fnflow refuses the call (unknown function, bad key, body too large). With
    --async it prints "Function submitted asynchronously." on stderr and the call id on stdout;
    follow the call with `fnflow call wait ID`.

    Examples:

        fnflow fn invoke hello --data '{"name": "fnflow"}'
        echo '{"name": "fnflow"}' | fnflow fn invoke hello
        fnflow fn invoke echo -m GET --path /items/1 --query page=2 -H 'X-Trace: 1'
        fnflow fn invoke long-task --async -H 'X-Callback-Url: http://127.0.0.1:8080/bin/done'
        fnflow fn invoke which --service shop --qualifier prod
    """
    if data is not None:
        payload = read_arg(data, "--data")
    else:
        payload = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    headers = dict(_header(h) for h in header or [])
    if content_type is not None:
        headers["Content-Type"] = content_type
    params = _key_values(query, "--query")
    if async_:
        if method.upper() != "POST":
            raise typer.BadParameter("asynchronous calls are POSTs", param_hint="--method")
        with connect(url) as client:
            call_id = client.invoke_async(
                name, payload, service=service, path=path, query=params, headers=headers, qualifier=qualifier
            )
        if output is Format.text:
            typer.echo("Function submitted asynchronously.", err=True)
        emit(output, {"callId": call_id}, lambda: call_id)
        return
    with connect(url) as client:
        response = client.invoke(
            name,
            payload,
            service=service,
            method=method.upper(),
            path=path,
            query=params,
            headers=headers,
            qualifier=qualifier,
        )
    write_body(response.body)
    if not response.ok:
        error = response.header("X-Fc-Error-Type")  # python3 functions answer as Function Compute
        why = f"{error}, HTTP {response.status}" if error else f"HTTP {response.status}"
        fail(f"the function failed ({why}, call {response.call_id})", EXIT_FAILED)


def _header(text: str) -> tuple[str, str]:
    """faas-cli's ``Key: Value``, or its older ``Key=Value``: split at whichever comes first."""
    colon, equals = text.find(":"), text.find("=")
    at = colon if colon >= 0 and (equals < 0 or colon < equals) else equals
    if at <= 0:
        raise typer.BadParameter(f"{text!r} is not 'Key: Value'", param_hint="--header")
    return text[:at].strip(), text[at + 1 :].strip()


@app.command("list")
def list_(
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this service's.")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """List functions."""
    with connect(url) as client:
        functions = client.list_functions(service)
    rows = [
        (f.service, f.name, f.runtime, f.handler, f"{f.timeout:g}s", render.when(f.last_modified_time))
        for f in functions
    ]
    emit(
        output,
        {"functions": [f.raw for f in functions]},
        lambda: render.table(("SERVICE", "NAME", "RUNTIME", "HANDLER", "TIMEOUT", "MODIFIED"), rows),
    )


@app.command()
def get(name: str, service: Service = DEFAULT_SERVICE, url: Url = None, output: Output = Format.text) -> None:
    """Show a function's settings, layers and environment (its hash and installed packages), and
    the instances reserved for it: its warm instances, and those of the aliases of its service."""
    with connect(url) as client:
        function = client.get_function(name, service)
        reserved = _reserved(client, function)
    emit(output, function.raw, lambda: show(function) + "".join(f"\n{line}" for line in reserved))


def _reserved(client: Client, function: Function) -> list[str]:
    """``reserved:  N (alias A, version V)`` for each alias that reserves instances of the function."""
    aliases = [a for a in client.list_aliases(function.service) if a.reserved_instances]
    if not aliases:
        return []
    has = {v.version_id: set(v.functions) for v in client.list_versions(function.service)}
    lines = [
        f"reserved:           {a.reserved_instances} (alias {a.name}, version {a.version_id})"
        for a in aliases
        if function.name in has.get(a.version_id, set())
    ]
    return lines


app.command("describe", help="Show a function (the same as get).")(get)


@app.command()
def gc(url: Url = None, output: Output = Format.text) -> None:
    """Remove the environments, layers and unpacked code that no deployed function uses.

    The server that answers prunes its own data folder (and the store's copies); each server
    also does so every hour by itself, for what has been unused for an hour.
    """
    with connect(url) as client:
        pruned = client.prune_functions()
    local = ("environments", "layers", "code")
    emit(
        output,
        pruned,
        lambda: (
            "\n".join(f"removed {len(pruned[k])} {k} folder(s)" for k in local)
            + f"\nremoved {len(pruned['storedEnvironments'])} environment(s) and"
            f" {len(pruned['storedLayers'])} layer(s) from the store"
        ),
    )


@app.command()
def delete(
    name: str, service: Service = DEFAULT_SERVICE, url: Url = None, output: Output = Format.text
) -> None:
    """Delete a function."""
    with connect(url) as client:
        client.delete_function(name, service)
    emit(output, None, lambda: f"deleted function {service}/{name}")


@app.command()
def logs(
    name: str,
    service: Service = DEFAULT_SERVICE,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Only lines this recent (10m, 1h30m) or since this time (RFC 3339, with a zone)."),
    ] = None,
    tail: Annotated[int | None, typer.Option(min=1, help="Only the last N lines.")] = None,
    call: Annotated[str | None, typer.Option("--call", help="Only the lines of this call id.")] = None,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Print a function's log: what it wrote to stdout and stderr, each line with its time and call
    id, and fnflow's notes on failed calls (lines starting "fnflow:").

    Examples:

        fnflow fn logs hello --since 10m
        fnflow fn logs hello --call 5f0c7e9a-… --output json
        fnflow fn logs hello -f
    """
    start = _since(since) if since else None
    with connect(url) as client:
        read = client.follow_function_logs if follow else client.function_logs
        lines = read(name, service=service, since=start, tail=tail, call_id=call)
        try:
            for line in lines:
                typer.echo(json.dumps(line.raw) if output is Format.json else _log_line(line))
        except KeyboardInterrupt:
            return


def _since(text: str) -> datetime:
    """``--since``: a duration back from now (``10m``), or an RFC 3339 time."""
    try:
        return datetime.now(UTC) - timedelta(seconds=openfaas.parse_duration(text))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (10m, 1h30m) nor a time with a zone (2024-05-01T12:00:00Z)",
            param_hint="--since",
        )
    return when


def _log_line(line: LogLine) -> str:
    when = line.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{when} {line.call_id or '-'} {line.text}"


timers = typer.Typer(
    help="Call a function on a schedule: timer triggers, as Function Compute has them (each tick once, "
    "the call asynchronous, with FC's timer event).",
    no_args_is_help=True,
)
app.add_typer(timers, name="timer")


@timers.command("set")
def timer_set(
    name: str,
    trigger: Annotated[str, typer.Argument(help="The timer's name.")],
    cron: Annotated[
        str,
        typer.Option("--cron", help="Cron with seconds ('0 */5 * * * *') or '@every 30s' (1 s at least)."),
    ],
    payload: Annotated[str, typer.Option("--payload", help="The event's payload.")] = "",
    disable: Annotated[bool, typer.Option("--disable", help="Keep it, but do not fire.")] = False,
    service: Service = DEFAULT_SERVICE,
    url: Url = None,
    output: Output = Format.text,
) -> None:
    """Create or change a timer of a function."""
    with connect(url) as client:
        timer = client.set_timer(name, trigger, cron, service=service, payload=payload, enable=not disable)
    emit(output, timer, lambda: _timer_rows([timer]))


@timers.command("list")
def timer_list(
    name: str, service: Service = DEFAULT_SERVICE, url: Url = None, output: Output = Format.text
) -> None:
    """List a function's timers with their next fire time."""
    with connect(url) as client:
        found = [t for t in client.list_triggers(name, service) if t["kind"] == "timer"]
    emit(output, {"timers": found}, lambda: _timer_rows(found))


@timers.command("delete")
def timer_delete(
    name: str, trigger: str, service: Service = DEFAULT_SERVICE, url: Url = None, output: Output = Format.text
) -> None:
    """Delete a timer of a function."""
    with connect(url) as client:
        client.delete_trigger(name, trigger, service)
    emit(output, None, lambda: f"deleted timer {trigger} of function {service}/{name}")


def _timer_rows(found: list[dict[str, object]]) -> str:
    rows = [
        (
            str(t["name"]),
            str(t["cronExpression"]),
            "yes" if t["enable"] else "no",
            render.when(datetime.fromisoformat(str(t["nextFireTime"]))) if t.get("nextFireTime") else "-",
        )
        for t in found
    ]
    return render.table(("TIMER", "CRON", "ENABLED", "NEXT"), rows)
