"""Engine: whatever order tasks finish in, and however retries and timers interleave, a nested flow ends with
the same output, never runs more iterations at once than allowed, and keeps every runtime invariant
(the harness checks those after each decision, with a JSON round trip of the state in between)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fnflow.engine import Status

try:
    from engine_harness import ARN, Harness, load
except ImportError:  # pragma: no cover - tests/unit imported as a package
    from tests.unit.engine_harness import ARN, Harness, load

NESTED = load(f"""
version: v1
type: flow
steps:
  - type: foreach
    name: each
    maxConcurrency: 3
    iterationMapping: {{collection: $.xs, item: x, index: i}}
    outputMappings: [{{target: results, source: "$local[*].r"}}]
    steps:
      - type: choice
        name: parity
        choices:
          - condition: $.x.even == true
            steps:
              - type: parallel
                name: both
                outputMappings: [{{target: r, source: "$local[*].v"}}]
                branches:
                  - steps:
                      - type: task
                        name: left
                        resourceArn: {ARN}
                        inputMappings: [{{target: x, source: $input.x.n}}]
                        outputMappings: [{{target: v, source: $local.v}}]
                  - steps:
                      - type: wait
                        name: pause
                        duration: 2
                      - type: task
                        name: right
                        resourceArn: {ARN}
                        inputMappings: [{{target: x, source: $input.x.n}}]
                        retry: [{{errors: [Flaky], intervalSeconds: 1, maxAttempts: 5}}]
                        outputMappings: [{{target: v, source: $local.v}}]
        default:
          steps:
            - type: task
              name: odd
              resourceArn: {ARN}
              inputMappings: [{{target: x, source: $input.x.n}}]
              retry: [{{errors: [Flaky], intervalSeconds: 0, maxAttempts: 5}}]
              outputMappings: [{{target: r, source: $local.v}}]
            - type: wait
              name: settle
              duration: 1
      - type: pass
        name: tally
        inputMappings: [{{target: i, source: $input.i}}]
        outputMappings: [{{target: i, source: $input.i}}]
  - type: task
    name: last
    resourceArn: {ARN}
    outputMappings: [{{target: total, source: $local.total}}]
""")

ITEMS = [{"n": n, "even": n % 2 == 0} for n in range(6)]


def expected() -> dict[str, Any]:
    results: list[Any] = []
    for item in ITEMS:
        n = item["n"]
        results.append([f"left-{n}", f"right-{n}"] if item["even"] else f"odd-{n}")
    return {"results": results, "total": 6}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.booleans(), st.integers(0, 3)), min_size=1, max_size=120))
def test_any_completion_order_gives_the_same_result(moves: list[tuple[int, bool, int]]) -> None:
    h = Harness(NESTED, {"xs": ITEMS})
    flaky_left = {"right": 3, "odd": 3}  # a few retryable failures per step name at most
    for pick, fail, wait in moves:
        if h.finished:
            break
        pending = [t for t in h.tasks.values() if t.step != "last"]
        iterations = {t.input.get("x") for t in pending}
        assert len(iterations) <= 3
        if pending and (wait == 0 or not h.timers):
            task = pending[pick % len(pending)]
            if fail and flaky_left.get(task.step, 0) > 0:
                flaky_left[task.step] -= 1
                h.fail(task.activity, "Flaky", "try again")
            else:
                h.succeed(task.activity, {"v": f"{task.step}-{task.input['x']}"})
        elif h.timers:
            h.advance(wait)
    # finish whatever is left, in a fixed order
    h.drive(
        lambda task, now: {"total": 6} if task.step == "last" else {"v": f"{task.step}-{task.input['x']}"}
    )
    assert h.status is Status.SUCCEEDED
    assert h.output == expected()
    assert h.steps().count("tally") == 6
    assert [e.detail["index"] for e in h.events("IterationEntered")] == [0, 1, 2, 3, 4, 5]
