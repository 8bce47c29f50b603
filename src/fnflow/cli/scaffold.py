"""``fnflow new``: a function folder from a template, and its entry in a stack file, as ``faas-cli new``.

Like faas-cli it refuses to overwrite: an existing folder, an existing stack file (unless
``--append``), or a function the stack file already has.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml

from fnflow.cli.common import fail
from fnflow.functions.config import NAME

STACK_HEADER = """version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
"""


class Lang(StrEnum):
    python3 = "python3"
    python3_http = "python3-http"
    python3_flask = "python3-flask"
    python3_fc = "python3-fc"
    dockerfile = "dockerfile"


# Files of each template; every handler runs as it is written.
TEMPLATES: dict[Lang, dict[str, str]] = {
    Lang.python3: {
        "handler.py": '''def handle(req):
    """Handle a request to the function.

    Args:
        req (str): the request body. Headers are in os.environ as Http_*, e.g. Http_Content_Type.

    Returns the response body; it is printed, so a newline follows it.
    """
    return req
''',
    },
    Lang.python3_http: {
        "handler.py": '''def handle(event, context):
    """Handle a request to the function.

    event has body (bytes), headers, method, query (dict) and path; context has hostname.
    Return {"statusCode", "body", "headers"}: a dict body is sent as JSON.
    """
    return {
        "statusCode": 200,
        "body": {"hello": event.query.get("name", "world"), "method": event.method},
    }
''',
    },
    Lang.python3_flask: {
        "handler.py": '''def handle(req):
    """Handle a request to the function: req is the body as text; return a body, or (body, status)."""
    return req
''',
    },
    Lang.python3_fc: {
        "index.py": '''import json


def handler(event, context):
    """Function Compute's handler: event is the body as bytes (JSON from a flow's task step).

    Return bytes, str, or a dict or list (sent as JSON); an exception fails the call with its
    class name, which a flow can retry or catch.
    """
    data = json.loads(event or b"{}")
    return {"hello": data.get("name", "world"), "requestId": context.request_id}
''',
    },
    Lang.dockerfile: {
        "Dockerfile": """# fnflow runs the ENV fprocess command for each call: the request body on its stdin,
# its stdout is the response. The rest of this file builds an image with faas-cli.
FROM ghcr.io/openfaas/classic-watchdog:latest AS watchdog

FROM alpine:latest

COPY --from=watchdog /fwatchdog /usr/bin/fwatchdog
RUN chmod +x /usr/bin/fwatchdog && addgroup -S app && adduser app -S -G app
WORKDIR /home/app
USER app

# Populate example here - i.e. "cat", "sha512sum" or "sleep 1"
ENV fprocess="cat"

EXPOSE 8080
CMD ["fwatchdog"]
""",
    },
}


def new(
    name: Annotated[str, typer.Argument(help="The function's name.")],
    lang: Annotated[Lang, typer.Option("--lang", help="The template.")],
    append: Annotated[
        Path | None,
        typer.Option("--append", "-a", dir_okay=False, help="Add the function to this stack file."),
    ] = None,
) -> None:
    """Create a function folder NAME from a template and its entry in stack.yml.

    Example:

        fnflow new hello --lang python3-http
        fnflow up -f stack.yml
        curl 'http://127.0.0.1:8080/function/hello?name=you'
    """
    if not NAME.match(name):
        fail(f"{name!r} is not a function name: use letters, digits, - and _, starting with a letter")
    folder = Path(name)
    stack = append or Path("stack.yml")
    if folder.exists():
        fail(f"folder {folder} already exists")
    if append is None and stack.exists():
        fail(f"{stack} already exists: add the function to it with --append {stack}")
    entry = f"  {name}:\n    lang: {lang.value}\n    handler: ./{name}\n"
    text = _appended(append, name, entry) if append is not None else STACK_HEADER + entry
    folder.mkdir()
    for file, content in TEMPLATES[lang].items():
        (folder / file).write_text(content)
    stack.write_text(text)
    typer.echo(f"Function created in folder: {folder}")
    typer.echo(f"Stack file written: {stack}")
    typer.echo(f"Deploy it with: fnflow up -f {stack}")


def _appended(stack: Path, name: str, entry: str) -> str:
    """The stack file's text with ``entry`` added at its end (comments kept), checked by reading it back."""
    try:
        text = stack.read_text()
        functions = (yaml.safe_load(text) or {}).get("functions") or {}
    except (OSError, AttributeError, yaml.YAMLError) as e:
        fail(f"cannot read {stack}: {e}")
    if name in functions:
        fail(f"function {name} already exists in {stack}")
    text = text if text.endswith("\n") else text + "\n"
    if not functions and "functions:" not in text:
        text += "functions:\n"
    result = text + entry
    try:
        merged = (yaml.safe_load(result) or {}).get("functions") or {}
    except yaml.YAMLError:
        merged = {}
    if set(merged) != {*functions, name}:
        fail(f"cannot append to {stack}: make functions: the last section of the file")
    return result
