"""A flow as a graph: steps as boxes, laid out top to bottom, with the edges between them (pure).

Each list of steps is a column; a parallel step's branches, a foreach body and a choice's cases are
columns side by side in a frame under their step. ``next`` edges join a step to the one after it;
``goto`` (a choice's jump) and ``catch`` edges run along lanes on the right. The console and
``fnflow flow graph`` draw the same layout: ``svg`` renders it (each step a ``<g data-step=…>`` the
console colours by state), ``mermaid`` writes the flow as a Mermaid flowchart.
"""

from __future__ import annotations

import html
import zlib
from dataclasses import dataclass, field
from typing import Any

from fnflow.fdl.arn import FlowTarget, FunctionTarget, QueueTarget, TopicTarget, parse_resource_arn
from fnflow.fdl.model import (
    ChoiceStep,
    FailStep,
    Flow,
    ForeachStep,
    ParallelStep,
    StepModel,
    SucceedStep,
    TaskStep,
    WaitStep,
)

W, H = 200.0, 44.0  # a step's box
GAP = 26.0  # between steps of a column
PAD = 14.0  # inside a frame
COLUMN_GAP = 22.0
CASE = 22.0  # the label above a choice's case
LANE = 12.0  # between the lanes of goto and catch edges
LABEL_ROOM = 110.0  # right of the lanes, for their labels
MARGIN = 20.0
START = "#start"
END = "#end"


@dataclass
class Box:
    """A step (or the start, the end, a frame of columns) where it is drawn."""

    id: str
    kind: str  # the step type, "start", "end", or "frame"
    label: str
    x: float
    y: float
    w: float
    h: float
    sub: str = ""  # a second line: what a task calls, how long a wait is …
    tags: list[str] = field(default_factory=list)  # "retry", "catch", "timeout", "child flow" …
    cases: list[tuple[float, str]] = field(default_factory=list)  # a frame's column labels (x, text)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "sub": self.sub,
            "tags": self.tags,
            "x": self.x,
            "y": self.y,
            "w": self.w,
            "h": self.h,
        }


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # next | goto | catch
    label: str
    points: list[tuple[float, float]]

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "kind": self.kind, "label": self.label}


@dataclass
class Graph:
    boxes: list[Box]
    edges: list[Edge]
    width: float
    height: float

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "boxes": [b.to_json() for b in self.boxes],
            "edges": [e.to_json() for e in self.edges],
        }


# --- what a step says about itself --------------------------------------------------------------------


def describe_task(step: TaskStep) -> tuple[str, list[str]]:
    """The second line of a task's box (what it calls, how) and its tags."""
    target = parse_resource_arn(step.resourceArn)
    if isinstance(target, FunctionTarget):
        qualifier = f".{target.qualifier}" if target.qualifier else ""
        sub, kind = f"{target.service}{qualifier}/{target.function}", "function"
    elif isinstance(target, FlowTarget):
        sub, kind = f"flow {target.flow}", "child flow"
    elif isinstance(target, QueueTarget):
        sub, kind = f"queue {target.queue}", "queue"
    else:
        assert isinstance(target, TopicTarget)
        sub, kind = f"topic {target.topic}", "topic"
    tags = [kind]
    if step.pattern != "requestResponse":
        sub += f" · {step.pattern}"
    if step.retry:
        tags.append("retry " + ", ".join(f"{'/'.join(r.errors)} x{r.maxAttempts}" for r in step.retry))
    if step.catch:
        tags.append("catch " + ", ".join("/".join(c.errors) for c in step.catch))
    if step.timeoutSeconds:
        tags.append(f"timeout {step.timeoutSeconds:g}s")
    return sub, tags


def _sub(step: StepModel) -> tuple[str, list[str]]:
    if isinstance(step, TaskStep):
        return describe_task(step)
    if isinstance(step, WaitStep):
        if step.duration is None:
            return f"until {step.timestamp}", []
        return (f"{step.duration:g}s" if isinstance(step.duration, float) else f"for {step.duration}"), []
    if isinstance(step, ForeachStep):
        limit = f", {step.maxConcurrency} at a time" if step.maxConcurrency < 100 else ""
        return f"each of {step.iterationMapping.collection}{limit}", []
    if isinstance(step, FailStep):
        return step.error or "", []
    return "", []


def _columns(step: StepModel) -> list[tuple[str, list[StepModel]]]:
    """The step lists nested in a step, each with its label."""
    if isinstance(step, ParallelStep):
        return [(f"branch {i + 1}", b.steps) for i, b in enumerate(step.branches)]
    if isinstance(step, ForeachStep):
        return [("each item", step.steps)]
    if isinstance(step, ChoiceStep):
        cases = [(rule.condition.text, rule.steps) for rule in step.choices]
        if step.default is not None:
            cases.append(("default", step.default.steps))
        return cases
    return []


def _case_gotos(step: StepModel) -> list[str | None]:
    """Where each case of a choice jumps (in the order of ``_columns``)."""
    if not isinstance(step, ChoiceStep):
        return []
    gotos = [rule.goto for rule in step.choices]
    if step.default is not None:
        gotos.append(step.default.goto)
    return gotos


def _falls_through(step: StepModel) -> bool:
    return not isinstance(step, SucceedStep | FailStep) and not getattr(step, "end", False)


def _jumps(step: StepModel) -> list[tuple[str, str, str]]:
    """(target, kind, label) of the jumps a step makes besides falling through."""
    if isinstance(step, ChoiceStep):
        jumps = [(r.goto, "goto", r.condition.text) for r in step.choices if r.goto]
        if step.default is not None and step.default.goto:
            jumps.append((step.default.goto, "goto", "default"))
        return jumps
    if isinstance(step, TaskStep):
        return [(c.goto, "catch", "/".join(c.errors)) for c in step.catch]
    return []


# --- layout ---------------------------------------------------------------------------------------------


def _size(steps: list[StepModel]) -> tuple[float, float]:
    sizes = [_block(s) for s in steps]
    if not sizes:
        return W * 0.6, H * 0.5
    return max(w for w, _ in sizes), sum(h for _, h in sizes) + GAP * (len(sizes) - 1)


def _block(step: StepModel) -> tuple[float, float]:
    columns = _columns(step)
    if not columns:
        return W, H
    sizes = [_size(steps) for _, steps in columns]
    frame_w = sum(w for w, _ in sizes) + COLUMN_GAP * (len(sizes) - 1) + 2 * PAD
    frame_h = CASE + max(h for _, h in sizes) + 2 * PAD
    return max(W, frame_w), H + GAP / 2 + frame_h


class _Layout:
    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.edges: list[Edge] = []
        self.by_id: dict[str, Box] = {}
        self.jumps: list[tuple[str, str, str, str]] = []  # source, target, kind, label

    def add(self, box: Box) -> Box:
        self.boxes.append(box)
        self.by_id[box.id] = box
        return box

    def column(self, steps: list[StepModel], cx: float, top: float) -> tuple[list[str], list[str]]:
        """Place a column centred on ``cx``; (ids of its first entries, ids whose end leaves it)."""
        y = top
        previous: list[str] = []  # what falls through into the next step
        first: list[str] = []
        for index, step in enumerate(steps):
            entry, exits = self.block(step, cx, y)
            if index == 0:
                first = [entry]
            for source in previous:
                self.next_edge(source, entry)
            previous = exits if _falls_through(step) else []
            for target, kind, label in _jumps(step):
                self.jumps.append((step.name, target, kind, label))
            y += _block(step)[1] + GAP
        return first, previous

    def block(self, step: StepModel, cx: float, top: float) -> tuple[str, list[str]]:
        """Place a step (and what it nests); (its id, the ids whose end is the step's end)."""
        sub, tags = _sub(step)
        box = self.add(Box(step.name, step.type, step.name, cx - W / 2, top, W, H, sub, tags))
        columns = _columns(step)
        if not columns:
            return box.id, [box.id]
        width, height = _block(step)
        frame = self.add(
            Box(
                f"{step.name}#frame",
                "frame",
                "",
                cx - width / 2,
                top + H + GAP / 2,
                width,
                height - H - GAP / 2,
            )
        )
        self.next_edge(box.id, frame.id)
        x = frame.x + PAD
        gotos = _case_gotos(step)
        for k, (title, steps) in enumerate(columns):
            col_w, _ = _size(steps)
            cx, top = x + col_w / 2, frame.y + PAD + CASE
            frame.cases.append((cx, title))
            if steps:
                self.column(steps, cx, top)
            else:  # a case that only jumps: say where
                where = f"→ {gotos[k]}" if gotos[k] else "(goes on)"
                self.add(Box(f"{step.name}#case{k}", "goto", where, cx - W * 0.3, top, W * 0.6, H * 0.5))
            x += col_w + COLUMN_GAP
        return box.id, [frame.id]  # what follows the step follows its frame

    def next_edge(self, source: str, target: str) -> None:
        a, b = self.by_id[source], self.by_id[target]
        self.edges.append(Edge(source, target, "next", "", [(b.cx, a.y + a.h), (b.cx, b.y)]))

    def route_jumps(self, right: float) -> float:
        """Give each jump a lane right of everything; the width they take. A step's jumps leave it
        at different heights; each is labelled where it arrives."""
        count: dict[str, int] = {}
        for source, *_ in self.jumps:
            count[source] = count.get(source, 0) + 1
        seen: dict[str, int] = {}
        for n, (source, target, kind, label) in enumerate(self.jumps):
            a, b = self.by_id[source], self.by_id.get(target)
            if b is None:  # validation makes this impossible; drawn nothing rather than fail
                continue
            seen[source] = seen.get(source, 0) + 1
            y = a.y + a.h * seen[source] / (count[source] + 1)
            lane = right + LANE * (n + 1)
            points = [(a.x + a.w, y), (lane, y), (lane, b.cy), (b.x + b.w, b.cy)]
            self.edges.append(Edge(source, target, kind, label, points))
        return LANE * (len(self.jumps) + 1) + (LABEL_ROOM if self.jumps else 0.0)


def layout(flow: Flow) -> Graph:
    """Where every step of ``flow`` is drawn, and its edges."""
    width, height = _size(flow.steps)
    cx = MARGIN + width / 2
    plan = _Layout()
    plan.add(Box(START, "start", "start", cx - W / 4, MARGIN, W / 2, H * 0.6))
    top = MARGIN + H * 0.6 + GAP
    first, exits = plan.column(flow.steps, cx, top)
    for entry in first:
        plan.next_edge(START, entry)
    end_y = top + height + GAP
    plan.add(Box(END, "end", "end", cx - W / 4, end_y, W / 2, H * 0.6))
    for source in exits:
        plan.next_edge(source, END)
    lanes = plan.route_jumps(MARGIN + width)
    return Graph(plan.boxes, plan.edges, MARGIN * 2 + width + lanes, end_y + H * 0.6 + MARGIN)


# --- renderings -----------------------------------------------------------------------------------------


def _text(x: float, y: float, text: str, cls: str, anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{html.escape(text)}</text>'


def _rect(box: Box, cls: str, rx: float) -> str:
    return (
        f'<rect class="{cls}" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
        f'rx="{rx:.1f}"/>'
    )


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(graph: Graph, title: str = "") -> str:
    """The graph as a self-contained SVG document; each step is ``<g class="step {kind}" data-step>``."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-graph" width="{graph.width:.0f}" '
        f'height="{graph.height:.0f}" viewBox="0 0 {graph.width:.0f} {graph.height:.0f}" role="img">',
        f"<title>{html.escape(title)}</title>" if title else "",
        "<style>.flow-graph{font:12px sans-serif}.box{fill:#fff;stroke:#56606b;stroke-width:1.2}"
        ".frame .frame{fill:#f6f8fa;stroke:#c9d1d9;stroke-dasharray:4 3}.label{font-weight:600}"
        ".sub,.tag,.case{fill:#57606a;font-size:10px}.edge{fill:none;stroke:#8c959f;stroke-width:1.2}"
        ".goto{stroke:#3b82f6}.catch{stroke:#d97706;stroke-dasharray:5 3}.edge-label{font-size:9px;"
        "fill:#57606a}.start .box,.end .box{fill:#eaeef2}.succeed .box{stroke:#1a7f37}"
        ".fail .box{stroke:#cf222e}.choice .box{fill:#fff8e6}.pill{fill:#fff;stroke:#c9d1d9}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#8c959f"/>'
        "</marker></defs>",
    ]
    for edge in graph.edges:
        if len(edge.points) < 2:
            continue
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in edge.points)
        parts.append(
            f'<polyline class="edge {edge.kind}" points="{d}" marker-end="url(#arrow)" '
            f'data-source="{html.escape(edge.source)}" data-target="{html.escape(edge.target)}"/>'
        )
        if edge.label and edge.kind in ("goto", "catch"):
            x, y = edge.points[2]  # where it turns towards its target
            parts.append(_text(x + 3, y - 3, _clip(edge.label, 26), "edge-label", "start"))
    for box in graph.boxes:
        if box.kind == "frame":
            parts.append(f'<g class="frame">{_rect(box, "frame", 6)}')
            parts += [_text(x, box.y + PAD + 4, _clip(t, 28), "case") for x, t in box.cases]
            parts.append("</g>")
            continue
        if box.kind == "goto":
            text = _text(box.cx, box.cy + 4, _clip(box.label, 22), "sub")
            parts.append(f'<g class="goto-case">{_rect(box, "pill", box.h / 2)}{text}</g>')
            continue
        rx = box.h / 2 if box.kind in ("start", "end") else 6
        lines = [box.label, box.sub] if box.sub else [box.label]
        step = html.escape(box.id)
        parts.append(f'<g class="step {box.kind}" data-step="{step}" tabindex="0">{_rect(box, "box", rx)}')
        first = box.cy - (6 if len(lines) > 1 else -4)
        parts.append(_text(box.cx, first, _clip(lines[0]), "label"))
        if len(lines) > 1:
            parts.append(_text(box.cx, first + 14, _clip(lines[1], 34), "sub"))
        if box.tags:
            parts.append(f"<title>{html.escape('; '.join(box.tags))}</title>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(p for p in parts if p)


def _mermaid_id(name: str) -> str:
    """A Mermaid node id for a step: its name's letters and digits, made unique by a checksum."""
    return "s_" + "".join(c if c.isalnum() else "_" for c in name) + f"_{zlib.crc32(name.encode()) % 10_000}"


def to_mermaid(flow: Flow) -> str:
    """The flow as a Mermaid flowchart: nested step lists as subgraphs, jumps as labelled edges."""
    ids: dict[str, str] = {}
    lines = ["flowchart TD", f"  {START[1:]}([start])"]

    def node(step: StepModel) -> str:
        sub, _ = _sub(step)
        label = f"{step.name}<br/><small>{sub}</small>" if sub else step.name
        text = html.escape(label).replace("&lt;br/&gt;", "<br/>").replace("&lt;small&gt;", "<small>")
        text = text.replace("&lt;/small&gt;", "</small>")
        shape = {"choice": ("{", "}"), "wait": ("[/", "/]"), "succeed": ("([", "])"), "fail": ("([", "])")}
        left, right = shape.get(step.type, ("[", "]"))
        return f'{ids[step.name]}{left}"{text}"{right}'

    def column(steps: list[StepModel], indent: str) -> tuple[str | None, list[str]]:
        previous: list[str] = []
        first = None
        for step in steps:
            ids[step.name] = _mermaid_id(step.name)
            lines.append(indent + node(step))
            first = first or ids[step.name]
            for source in previous:
                lines.append(f"{indent}{source} --> {ids[step.name]}")
            exits = [ids[step.name]]
            for n, (title, nested) in enumerate(_columns(step)):
                lines.append(f'{indent}subgraph {ids[step.name]}_{n}["{html.escape(title)}"]')
                head, _ = column(nested, indent + "  ")
                lines.append(f"{indent}end")
                if head:
                    lines.append(f"{indent}{ids[step.name]} --> {head}")
            previous = exits if _falls_through(step) else []
        return first, previous

    head, exits = column(flow.steps, "  ")
    lines.append(f"  {END[1:]}([end])")
    if head:
        lines.append(f"  {START[1:]} --> {head}")
    lines += [f"  {source} --> {END[1:]}" for source in exits]

    def jumps(steps: list[StepModel]) -> None:
        for step in steps:
            for target, kind, label in _jumps(step):
                arrow = "-.->" if kind == "catch" else "-->"
                lines.append(f'  {ids[step.name]} {arrow}|"{html.escape(_clip(label, 40))}"| {ids[target]}')
            for _, nested in _columns(step):
                jumps(nested)

    jumps(flow.steps)
    return "\n".join(lines) + "\n"
