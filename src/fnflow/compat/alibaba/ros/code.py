"""Reading what a template names on disk: its flow definition files and its functions' code.

A ``CodeUri`` is a folder (``./dir/``, its files are the code), a file (the code is that one
file) or a ``.zip`` (the package as it is), relative to the template's folder. ROS's inline
``Code.SourceCode`` is one file named after the handler's module (``index.py`` for
``index.handler``); ``Code.ZipFile`` the base64 of a zip. The handler must be there: a module
file that defines it (read, not run), or the deploy stops before anything is deployed.
"""

from __future__ import annotations

import ast
import base64
import binascii
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from fnflow.compat.alibaba.ros.draft import Draft, FunctionDraft
from fnflow.compat.alibaba.ros.problems import TemplateError, TemplateProblem
from fnflow.functions import codepkg


def reader(folder: Path) -> Callable[[str], str]:
    """``read_text`` for ``template.draft``: files relative to the template's folder."""
    return lambda path: (folder / path).read_text()


def _problem(at: TemplateProblem, message: str) -> TemplateProblem:
    return TemplateProblem(message, at.file, at.line, at.column, at.resource)


def _package(function: FunctionDraft, folder: Path) -> bytes:
    code = function.code
    if code.source:
        module = function.config.handler.rpartition(".")[0].replace(".", "/")
        return codepkg.pack_files({f"{module}.py": code.source.encode()})
    if code.zip_file:
        try:
            return base64.b64decode(code.zip_file, validate=True)
        except binascii.Error:
            raise ValueError("Code.ZipFile is not base64") from None
    path = folder / code.uri
    if path.is_dir():
        return codepkg.pack_directory(path)
    if path.is_file() and path.suffix == ".zip":
        return path.read_bytes()
    if path.is_file():
        return codepkg.pack_files({path.name: path.read_bytes()})
    raise ValueError(f"CodeUri {code.uri} does not exist (paths are relative to {folder})")


def _defines(source: bytes, name: str) -> bool:
    """Whether a module's top level defines ``name`` (a def, a class, an assignment or an import)."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
            (alias.asname or alias.name.split(".")[0]) == name for alias in node.names
        ):
            return True
    return False


def check_handler(package: bytes, handler: str, what: str) -> str | None:
    """Why ``handler`` (``module.function``) is not in the package, or None if it is."""
    module, _, attribute = handler.rpartition(".")
    path = module.replace(".", "/")
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        names = set(zf.namelist())
        file = next((f for f in (f"{path}.py", f"{path}/__init__.py") if f in names), None)
        if file is None:
            return f"{what} {handler}: the code has no {path}.py"
        source = zf.read(file)
    try:
        if not _defines(source, attribute):
            return f"{what} {handler}: {file} defines no {attribute}"
    except SyntaxError as e:
        return f"{what} {handler}: {file} is not valid Python 3 (line {e.lineno}: {e.msg})"
    return None


def packages(draft: Draft, folder: Path) -> dict[str, bytes]:
    """Each function's code package, by logical id; TemplateError says every one that is missing,
    unreadable, or has no handler (or initializer)."""
    found: dict[str, bytes] = {}
    problems: list[TemplateProblem] = []
    for function in draft.functions:
        try:
            package = _package(function, folder)
            codepkg.check(package)
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            problems.append(_problem(function.at, f"function {function.config.name}: {e}"))
            continue
        for what, handler in (
            ("handler", function.config.handler),
            ("initializer", function.config.initializer),
        ):
            why = check_handler(package, handler, what) if handler else None
            if why is not None:
                problems.append(_problem(function.handler_at, why))
        found[function.logical_id] = package
    if problems:
        raise TemplateError(problems)
    return found
