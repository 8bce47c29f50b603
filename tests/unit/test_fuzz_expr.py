"""Hypothesis over FDL's paths and conditions (``fnflow.fdl.expr``).

- Any text compiles or raises ExprError with a column inside the text (or just after it); never
  anything else, at any nesting, with any characters.
- Generated well-formed conditions compile, and on any JSON data evaluate to a bool without
  raising, with the logic of their operators (``!``, ``&&``, ``||``, comparison symmetry).
- Generated paths compile, evaluate on any JSON without raising, and render back to a path that
  compiles to the same thing; every prefix of a valid condition compiles or says where it stops.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fnflow.fdl.expr import ExprError, compile_condition, compile_path
from tests.fuzzing import examples

FUZZ = settings(max_examples=examples(300), deadline=None, derandomize=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "n", "x y"]), inner)
    ),
    max_leaves=10,
)
keys = st.sampled_from(["a", "b", "n", "items", "a-b", "_1"])
segments = st.lists(
    st.one_of(
        keys.map(lambda k: f".{k}"),
        st.integers(-2, 3).map(lambda i: f"[{i}]"),
        st.just("[*]"),
        st.sampled_from(["x y", 'q"uote', "é", "\\"]).map(lambda k: f"[{json.dumps(k)}]"),
    ),
    max_size=4,
)
paths = st.builds(
    lambda root, segs: root + "".join(segs), st.sampled_from(["$", "$input", "$local", "$context"]), segments
)
literals = st.one_of(
    st.sampled_from(["true", "false", "null", "`raw ${x}`", "'single'"]),
    st.integers(-5, 5).map(str),
    st.floats(-10, 10, allow_nan=False).map(repr),
    st.text(max_size=6).map(json.dumps),
)
operands = st.one_of(paths, literals)
comparisons = st.builds(
    lambda a, op, b: f"{a} {op} {b}", operands, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), operands
)
conditions = st.recursive(
    st.one_of(comparisons, paths, st.sampled_from(["true", "false"])),
    lambda inner: st.one_of(
        inner.map(lambda e: f"!({e})"),
        st.builds(lambda a, b: f"({a}) && ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) || ({b})", inner, inner),
    ),
    max_leaves=6,
)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.text(alphabet="$.[]*()!&|=<>\"'`\\ 0a-_", max_size=200)))
def test_any_text_compiles_or_says_where_it_is_wrong(text: str) -> None:
    for compile_ in (compile_condition, compile_path):
        try:
            compile_(text)
        except ExprError as e:
            assert str(e)
            assert e.column is None or 1 <= e.column <= len(text) + 1, (text, e.column, str(e))


@FUZZ
@given(conditions, json_values)
def test_conditions_evaluate_to_a_bool_with_the_logic_of_their_operators(text: str, data: Any) -> None:
    condition = compile_condition(text)
    value = condition.evaluate(data)
    assert isinstance(value, bool)
    assert compile_condition(f"!({text})").evaluate(data) is (not value)
    assert compile_condition(f"({text}) && true").evaluate(data) is value
    assert compile_condition(f"({text}) || false").evaluate(data) is value
    assert compile_condition(f"({text}) || !({text})").evaluate(data) is True


@FUZZ
@given(operands, operands, json_values)
def test_equality_is_symmetric(a: str, b: str, data: Any) -> None:
    assert compile_condition(f"{a} == {b}").evaluate(data) is compile_condition(f"{b} == {a}").evaluate(data)
    assert compile_condition(f"{a} != {b}").evaluate(data) is not compile_condition(f"{a} == {b}").evaluate(
        data
    )


@FUZZ
@given(paths, json_values)
def test_paths_evaluate_on_any_data_and_render_back(text: str, data: Any) -> None:
    path = compile_path(text)
    scope = {"input": data, "local": data, "context": {"a": data}}
    value = path.evaluate(scope)
    json.dumps(value)
    again = compile_path(str(path))
    assert (again.root, again.segments) == (path.root, path.segments)
    assert again.evaluate(scope) == value or value != value


@FUZZ
@given(conditions)
def test_every_prefix_of_a_condition_compiles_or_says_where_it_stops(text: str) -> None:
    for end in range(len(text)):
        try:
            compile_condition(text[:end])
        except ExprError as e:
            assert e.column is None or 1 <= e.column <= end + 1, (text[:end], e.column)
