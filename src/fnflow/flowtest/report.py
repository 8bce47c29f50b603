"""How a session is shown: like pytest for people (a dot per case, details of failures), JSON for
scripts, JUnit XML for CI, and the coverage table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from fnflow.flowtest.coverage import FlowCoverage, total_percent
from fnflow.flowtest.runner import CaseResult, SessionResult


def virtual_time(seconds: float) -> str:
    """``3h 20m 5s``: a virtual duration, as a person reads it."""
    if seconds < 60:
        return f"{seconds:g}s"
    parts = []
    whole = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return " ".join(parts)


def failure_text(result: CaseResult) -> str:
    lines = [f"___ {result.id} ___"]
    for m in result.mismatches:
        lines.append(f"  {m.field}: {m.message}")
        if m.diff:
            lines += [f"    {line}" for line in m.diff.splitlines()]
    record = result.run.record
    if record is not None:
        steps = (
            [e.step for e in result.run.execution.history if e.type == "StepEntered"]
            if result.run.execution
            else []
        )
        lines.append(
            f"  (execution {record.name}: {record.status}; steps entered: {', '.join(steps) or 'none'})"
        )
    return "\n".join(lines)


def summary(result: SessionResult) -> str:
    passed = len(result.cases) - len(result.failed)
    parts = [f"{passed} passed"]
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    if result.errors:
        files = len({p.file for p in result.errors})
        parts.append(f"{files} file(s) with errors")
    return f"{', '.join(parts)} in {result.wall:.2f}s (virtual time {virtual_time(result.virtual)})"


def coverage_table(coverage: dict[Path, FlowCoverage]) -> str:
    flows = sorted(coverage.values(), key=lambda c: str(c.path))
    if not flows:
        return "coverage: no flow ran"
    width = max(len(str(c.path)) for c in flows)
    lines = [f"{'flow':<{width}}  items  covered      %", f"{'-' * width}  -----  -------  -----"]
    for c in flows:
        all_items, hit = c.report()
        lines.append(f"{c.path!s:<{width}}  {len(all_items):>5}  {len(hit):>7}  {c.percent():>4.0f}%")
        missing = [i.key for i in all_items if i.key not in hit]
        lines += [f"  missing: {key}" for key in missing]
    lines.append(f"{'total':<{width}}  {'':>5}  {'':>7}  {total_percent(flows):>4.0f}%")
    return "\n".join(lines)


def as_json(result: SessionResult, with_coverage: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "passed": len(result.cases) - len(result.failed),
        "failed": len(result.failed),
        "errors": [p.to_dict() | {"message": str(p)} for p in result.errors],
        "realSeconds": round(result.wall, 3),
        "virtualSeconds": round(result.virtual, 3),
        "cases": [c.to_dict() for c in result.cases],
    }
    if with_coverage:
        flows = list(result.coverage.values())
        out["coverage"] = {
            "percent": round(total_percent(flows), 1),
            "flows": [c.to_dict() for c in sorted(flows, key=lambda c: str(c.path))],
        }
    return out


def junit_xml(result: SessionResult) -> str:
    suites = ElementTree.Element("testsuites", name="fnflow test")
    by_file: dict[Path, list[CaseResult]] = {}
    for case in result.cases:
        by_file.setdefault(case.file, []).append(case)
    for file, cases in by_file.items():
        failures = sum(1 for c in cases if not c.passed)
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=str(file),
            tests=str(len(cases)),
            failures=str(failures),
            errors="0",
            time=f"{sum(c.run.wall for c in cases):.3f}",
        )
        for case in cases:
            element = ElementTree.SubElement(
                suite, "testcase", classname=str(file), name=case.case.name, time=f"{case.run.wall:.3f}"
            )
            if not case.passed:
                failure = ElementTree.SubElement(
                    element, "failure", message="; ".join(m.message for m in case.mismatches)
                )
                failure.text = failure_text(case)
    errored: dict[Path, list[str]] = {}
    for problem in result.errors:
        errored.setdefault(problem.file, []).append(str(problem))
    for file, messages in errored.items():
        suite = ElementTree.SubElement(
            suites, "testsuite", name=str(file), tests="1", failures="0", errors="1"
        )
        case_element = ElementTree.SubElement(suite, "testcase", classname=str(file), name="load")
        error = ElementTree.SubElement(case_element, "error", message=messages[0])
        error.text = "\n".join(messages)
    ElementTree.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
    )


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
