"""``fnflow test``: run flow test files in-process, with mocked tasks and virtual time."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fnflow.cli.common import EXIT_FAILED, EXIT_USAGE, Format, fail


def test(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Test files (*.test.yaml) or folders to search for them (default: .).", show_default=False
        ),
    ] = None,
    output: Annotated[
        Format, typer.Option("--output", "-o", help="text for people; json for scripts.")
    ] = Format.text,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="Also write a JUnit XML report to this file (for CI).")
    ] = None,
    coverage: Annotated[
        bool,
        typer.Option(
            "--coverage", help="Show which steps, branches, catches and retries the cases exercised."
        ),
    ] = False,
    fail_under: Annotated[
        float | None,
        typer.Option("--fail-under", min=0, max=100, help="Fail if coverage is below this percentage."),
    ] = None,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON Schema of test files and exit.")
    ] = False,
) -> None:
    """Run flow test files: the real engine and runtime in-process, tasks answered by mocks, waits,
    back-offs and timeouts in virtual time (instant and repeatable).

    Exit codes: 0 all passed, 1 a case failed (or coverage is under --fail-under), 2 a test file is
    invalid or missing.

    Example:

        fnflow test examples --coverage
    """
    from fnflow.flowtest import report
    from fnflow.flowtest.runner import CaseResult, Session
    from fnflow.flowtest.spec import schema_text

    if schema:
        typer.echo(schema_text(), nl=False)
        return
    text = output is Format.text
    want_coverage = coverage or fail_under is not None
    current: list[Path] = []

    def on_file(path: Path) -> None:
        if text:
            if current:
                typer.echo()
            typer.echo(f"{path} ", nl=False)
            current[:] = [path]

    def on_case(result: CaseResult) -> None:
        if text:
            typer.echo("." if result.passed else "F", nl=False)
            sys.stdout.flush()

    def on_error(problem: object) -> None:
        if text:
            if current:
                typer.echo()
                current.clear()
            typer.echo(f"ERROR {problem}", err=True)

    result = Session().run_paths(paths or [Path(".")], on_file=on_file, on_case=on_case, on_error=on_error)
    if text:
        if current:
            typer.echo()
        if result.failed:
            typer.echo("\n=== failures ===")
            for case in result.failed:
                typer.echo(report.failure_text(case))
        if want_coverage:
            typer.echo("\n=== coverage ===")
            typer.echo(report.coverage_table(result.coverage))
        typer.echo(f"\n{report.summary(result)}")
    else:
        typer.echo(report.dumps(report.as_json(result, want_coverage)))
    if junit_xml is not None:
        try:
            junit_xml.write_text(report.junit_xml(result))
        except OSError as e:
            fail(f"cannot write {junit_xml}: {e.strerror or e}")
    if not result.cases and not result.errors:
        fail("no test files (*.test.yaml) found in " + ", ".join(str(p) for p in paths or [Path(".")]))
    if result.errors:
        raise typer.Exit(EXIT_USAGE)
    if result.failed:
        raise typer.Exit(EXIT_FAILED)
    if fail_under is not None:
        from fnflow.flowtest.coverage import total_percent

        percent = total_percent(list(result.coverage.values()))
        if percent < fail_under:
            typer.echo(f"fnflow: coverage {percent:.1f}% is under --fail-under {fail_under:g}%", err=True)
            raise typer.Exit(EXIT_FAILED)
