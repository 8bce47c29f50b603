"""Flows drawn as graphs (pure): every step has a box, columns do not overlap, edges join boxes that
exist, jumps are labelled, and the renderings are stable."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from fnflow.fdl import parse_flow
from fnflow.fdl.graph import END, START, Box, layout, to_mermaid, to_svg

ROOT = Path(__file__).resolve().parents[2]
FLOWS = [*sorted(ROOT.glob("examples/*/*.yaml")), ROOT / "tests/e2e/fixtures/crash/flow.yaml"]
DEFINITIONS = [
    p
    for p in FLOWS
    if p.name != "fnflow.yaml" and not p.name.endswith(".test.yaml") and "version:" in p.read_text()
]


def overlaps(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_step_gets_a_box_and_no_two_boxes_overlap(path: Path) -> None:
    flow = parse_flow(path.read_text())
    graph = layout(flow)
    ids = {b.id for b in graph.boxes}
    assert {START, END} <= ids
    steps = [b for b in graph.boxes if b.kind not in ("frame",)]
    for a, b in ((a, b) for i, a in enumerate(steps) for b in steps[i + 1 :]):
        assert not overlaps(a, b), f"{a.id} and {b.id} overlap"
    for box in graph.boxes:
        assert box.x >= 0 and box.x + box.w <= graph.width and box.y >= 0 and box.y + box.h <= graph.height
    for edge in graph.edges:
        assert {edge.source, edge.target} <= ids
    svg = to_svg(graph, path.name)
    assert svg == to_svg(layout(flow), path.name), "the same definition draws the same picture"
    assert to_mermaid(flow) == to_mermaid(parse_flow(path.read_text()))


def test_nesting_choices_and_catches() -> None:
    flow = parse_flow("""
version: v1
type: flow
steps:
  - type: task
    name: Work
    resourceArn: acs:fnf:::flow/child
    pattern: sync
    retry: [{errors: [FC.Unknown], maxAttempts: 2}]
    catch: [{errors: [Boom], goto: Recover}]
  - type: parallel
    name: Both
    branches:
      - steps: [{type: pass, name: Left}]
      - steps: [{type: pass, name: Right}, {type: wait, name: Nap, duration: 1}]
  - type: choice
    name: Pick
    choices:
      - {condition: $.x > 1, steps: [{type: pass, name: Big}]}
    default: {goto: Recover}
  - {type: succeed, name: Done}
  - {type: pass, name: Recover}
""")
    graph = layout(flow)
    boxes = {b.id: b for b in graph.boxes}
    assert boxes["Work"].sub == "flow child · sync"
    assert boxes["Work"].tags == ["child flow", "retry FC.Unknown x2", "catch Boom"]
    frame = boxes["Both#frame"]
    left, right, nap = boxes["Left"], boxes["Right"], boxes["Nap"]
    assert left.y == right.y and left.x + left.w < right.x, "branches side by side"
    assert all(frame.x <= b.x and b.x + b.w <= frame.x + frame.w for b in (left, right, nap)), (
        "inside its frame"
    )
    assert nap.y > right.y
    assert [c[1] for c in boxes["Pick#frame"].cases] == ["$.x > 1", "default"]
    assert boxes["Pick#case1"].label == "→ Recover"
    jumps = {(e.source, e.target, e.kind, e.label) for e in graph.edges if e.kind != "next"}
    assert jumps == {("Work", "Recover", "catch", "Boom"), ("Pick", "Recover", "goto", "default")}
    assert all(
        a.y <= b.y for a, b in pairwise([boxes[n] for n in ("Work", "Both", "Pick", "Done", "Recover")])
    )
    mermaid = to_mermaid(flow)
    assert "subgraph" in mermaid and '-.->|"Boom"|' in mermaid and '-->|"default"|' in mermaid
