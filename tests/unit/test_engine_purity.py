"""fdl and engine do no I/O: they import no database, network, clock, randomness, threads or processes.

Two checks. Statically: every import statement in every module of ``fnflow.fdl`` and ``fnflow.engine``
(and any fnflow module they pull in), including imports inside functions. Dynamically: a fresh interpreter
records every import that fnflow code itself executes while importing both packages and running a flow
end to end. A plain ``sys.modules`` check cannot be used: pydantic and lark themselves import
``threading``, ``time``, ``random``, ``uuid`` and ``socket``, which is not ours to forbid.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import fnflow

FORBIDDEN = {
    "sqlite3",
    "sqlalchemy",
    "psycopg",
    "psycopg2",
    "httpx",
    "asyncio",
    "socket",
    "subprocess",
    "threading",
    "random",
    "time",
    "uuid",
    "requests",
    "urllib",
    "http",
    "os",
    "multiprocessing",
    "concurrent",
    "secrets",
    "select",
    "selectors",
    "ssl",
}
PURE_PACKAGES = ("fnflow.fdl", "fnflow.engine")
ALLOWED_FNFLOW = ("fnflow.fdl", "fnflow.engine", "fnflow.errors")
SRC = Path(fnflow.__file__).resolve().parent.parent


def module_file(name: str) -> Path:
    base = SRC / Path(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imports_of(name: str) -> set[str]:
    """Absolute names of every module imported anywhere in module ``name``."""
    path = module_file(name)
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(
                f"{module}.{alias.name}"
                for alias in node.names
                if module_file(f"{module}.{alias.name}").exists() and module.startswith("fnflow")
            )
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "__import__",
            "import_module",
        ):
            found.add("<dynamic import>")
    return found


def pure_modules() -> list[str]:
    names = []
    for package in PURE_PACKAGES:
        root = module_file(package).parent
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(SRC).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.append(".".join(parts))
    return names


def test_static_imports_of_fdl_and_engine_are_pure() -> None:
    seen: set[str] = set()
    todo = pure_modules()
    assert "fnflow.engine.interpreter" in todo and "fnflow.fdl.model" in todo
    problems = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in sorted(imports_of(name)):
            top = imported.split(".")[0]
            if imported == "<dynamic import>":
                problems.append(f"{name} imports dynamically")
            elif top in FORBIDDEN:
                problems.append(f"{name} imports {imported}")
            elif top == "fnflow" and imported != "fnflow":
                if not imported.startswith(ALLOWED_FNFLOW):
                    problems.append(f"{name} imports {imported}, outside the pure core")
                elif module_file(imported).exists():
                    todo.append(imported)
    assert problems == []
    assert {"fnflow.engine.interpreter", "fnflow.fdl.expr", "fnflow.fdl.timestamps"} <= seen


PROBE = textwrap.dedent("""
    import builtins, importlib, json, sys
    forbidden = set(json.loads(sys.argv[1]))
    seen = []
    real_import = builtins.__import__

    def importer(globals):
        return (globals or {}).get("__name__", "") if isinstance(globals, dict) else ""

    def spy(name, globals=None, locals=None, fromlist=(), level=0):
        who = importer(globals)
        if who.startswith("fnflow") and level == 0:
            seen.append([who, name])
        return real_import(name, globals, locals, fromlist, level)

    real_import_module = importlib.import_module

    def spy_module(name, package=None):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("fnflow"):
            seen.append([caller, name])
        return real_import_module(name, package)

    builtins.__import__ = spy
    importlib.import_module = spy_module

    import fnflow.fdl, fnflow.engine
    import fnflow.fdl.model, fnflow.fdl.expr, fnflow.fdl.timestamps
    from datetime import datetime, timezone
    from fnflow.engine import Env, TaskSucceeded, TimerFired, compile_flow, decide, start
    flow = fnflow.fdl.model.Flow.model_validate({
        "version": "v1", "type": "flow", "timeoutSeconds": 100,
        "steps": [
            {"type": "wait", "name": "w", "timestamp": "2024-01-01T00:00:05Z"},
            {"type": "wait", "name": "d", "duration": "$.n"},
            {"type": "task", "name": "t", "resourceArn": "acs:fc:::services/s/functions/f",
             "retry": [{"errors": ["E"]}], "timeoutSeconds": 5},
            {"type": "choice", "name": "c",
             "choices": [{"condition": "$.a == 1 && !($.b < 2)", "goto": "p"}]},
            {"type": "foreach", "name": "f", "iterationMapping": {"collection": "$.xs", "item": "x"},
             "steps": [{"type": "pass", "name": "i"}]},
            {"type": "parallel", "name": "q", "branches": [{"steps": [{"type": "pass", "name": "b"}]}]},
            {"type": "pass", "name": "p"},
        ],
    })
    program = compile_flow(flow)
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    d = start(program, "f", "e", {"n": 1, "xs": [1, 2], "a": 1, "b": 3}, Env(now=now))
    timer = [c for c in d.commands if type(c).__name__ == "StartTimer"][-1].timer
    d = decide(program, d.state, TimerFired(timer), Env(now=now))
    timer = [c for c in d.commands if type(c).__name__ == "StartTimer"][-1].timer
    d = decide(program, d.state, TimerFired(timer), Env(now=now))
    task = [c for c in d.commands if type(c).__name__ == "ScheduleTask"][-1]
    d = decide(program, d.state, TaskSucceeded(task.activity, {"a": 1}), Env(now=now))
    assert d.state.status == "Succeeded", d.state
    print(json.dumps(seen))
""")


def test_fdl_and_engine_execute_no_forbidden_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(sorted(FORBIDDEN))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert any(who == "fnflow.engine.interpreter" for who, _ in seen)  # the spy saw our imports
    bad = sorted({f"{who} imports {name}" for who, name in seen if name.split(".")[0] in FORBIDDEN})
    assert bad == []
    outside = sorted(
        {
            f"{who} imports {name}"
            for who, name in seen
            if name.startswith("fnflow.") and not name.startswith(ALLOWED_FNFLOW)
        }
    )
    assert outside == []
