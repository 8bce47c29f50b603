"""Paths and conditions: table tests, then properties checked against a reference evaluator."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnflow.fdl.expr import (
    And,
    Compare,
    Const,
    ExprError,
    Literal_,
    Node,
    Not,
    Or,
    Path,
    compile_condition,
    compile_path,
    compile_source,
    is_path,
)

# --- paths -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "root", "segments"),
    [
        ("$", "input", ()),
        ("$.a.b", "input", ("a", "b")),
        ("$input", "input", ()),
        ("$input.items[0]", "input", ("items", 0)),
        ("$local[*].name", "local", (None, "name")),
        ("$context.task.token", "context", ("task", "token")),
        ('$.m["odd key"]', "input", ("m", "odd key")),
        ("$.m['k']", "input", ("m", "k")),
        ('$["\\u00e9"]', "input", ("é",)),
        ('$["é"]', "input", ("é",)),
        ("$.a-b", "input", ("a-b",)),
        ("$.items[-1]", "input", ("items", -1)),
        ("$.a.0", "input", ("a", "0")),
        ("$.true", "input", ("true",)),
        ("$[0][1]", "input", (0, 1)),
        ("  $.a  ", "input", ("a",)),
    ],
)
def test_compile_path(text: str, root: str, segments: tuple[Any, ...]) -> None:
    path = compile_path(text)
    assert (path.root, path.segments, path.text) == (root, segments, text.strip())


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("a.b", "expected a path such as $.key (got 'a.b')", 1),
        (5, "expected a path such as $.key (got 5)", 1),
        ("$.", "cannot parse '$.': it ends too early", 3),
        ("$.a[", "cannot parse '$.a[': it ends too early", 5),
        ("$.a[x]", "cannot parse '$.a[x]': unexpected 'x' at column 5", 5),
        ("$inputs", "cannot parse '$inputs': unexpected 's' at column 7", 7),
        ("$.a b", "cannot parse '$.a b': unexpected 'b' at column 5", 5),
        ("$.a == 1", "cannot parse '$.a == 1': unexpected '==' at column 5", 5),
        ("$.a[1.5]", "cannot parse '$.a[1.5]': unexpected '.' at column 6", 6),
    ],
)
def test_bad_paths(text: Any, message: str, column: int) -> None:
    with pytest.raises(ExprError) as raised:
        compile_path(text)
    assert (str(raised.value), raised.value.column) == (message, column)


DOC = {
    "a": {"b": 1},
    "items": [{"name": "x", "n": 1}, {"name": "y", "n": 2}, {"other": True}],
    "odd key": "odd",
    "list": [10, 20, 30],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$", DOC),
        ("$.a.b", 1),
        ("$.a", {"b": 1}),
        ("$.items[1].name", "y"),
        ("$.items[*].name", ["x", "y", None]),
        ("$.items[*]", DOC["items"]),
        ("$.list[-1]", 30),
        ("$.list[-3]", 10),
        ('$["odd key"]', "odd"),
        ("$.missing", None),
        ("$.missing.deeper", None),
        ("$.list[3]", None),
        ("$.list[-4]", None),
        ("$.a[0]", None),  # index into an object
        ("$.list.x", None),  # key into a list
        ("$.a[*].b", None),  # wildcard over an object
        ("$.a.b.c", None),  # key into a number
    ],
)
def test_path_evaluation(text: str, expected: Any) -> None:
    assert compile_path(text).evaluate({"input": DOC}) == expected


def test_path_roots_read_their_own_scope() -> None:
    scope = {"input": {"k": "in"}, "local": [{"k": "l0"}, {"k": "l1"}], "context": {"task": {"token": "t"}}}
    assert compile_path("$.k").evaluate(scope) == "in"
    assert compile_path("$input.k").evaluate(scope) == "in"
    assert compile_path("$local[*].k").evaluate(scope) == ["l0", "l1"]
    assert compile_path("$context.task.token").evaluate(scope) == "t"
    assert compile_path("$local.k").evaluate({"input": {}}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$input.x", Path("input", ("x",), "$input.x")),
        ("$.x", Path("input", ("x",), "$.x")),
        ("$", Path("input", (), "$")),
        ("$local", Path("local", (), "$local")),
        ("$context.task.token", Path("context", ("task", "token"), "$context.task.token")),
        ("hello", Const("hello")),
        ("", Const("")),
        ("/", Const("/")),
        ("$5.00", Const("$5.00")),
        ("a $.b", Const("a $.b")),
        (100, Const(100)),
        (None, Const(None)),
        (["A", "B"], Const(["A", "B"])),
        ({"a": "$.x"}, Const({"a": "$.x"})),
    ],
)
def test_compile_source(value: Any, expected: Any) -> None:
    assert compile_source(value) == expected


def test_source_that_looks_like_a_path_must_be_one() -> None:
    assert is_path("$inputs")
    with pytest.raises(ExprError, match="unexpected 's' at column 7"):
        compile_source("$inputs")


# --- conditions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        # the seed flow's conditions
        ('$.status == "success"', {"status": "success"}, True),
        ('$.status == "success"', {"status": "running"}, False),
        ("$.try_count > 3", {"try_count": 4}, True),
        ("$.try_count > 3", {"try_count": 3}, False),
        # every operator, numbers
        ("$.a == 1", {"a": 1}, True),
        ("$.a == 1", {"a": 1.0}, True),
        ("$.a == 1", {"a": 2}, False),
        ("$.a != 1", {"a": 2}, True),
        ("$.a != 1", {"a": 1}, False),
        ("$.a < 2", {"a": 1}, True),
        ("$.a < 2", {"a": 2}, False),
        ("$.a <= 2", {"a": 2}, True),
        ("$.a <= 2", {"a": 3}, False),
        ("$.a > 2", {"a": 3}, True),
        ("$.a > 2", {"a": 2}, False),
        ("$.a >= 2", {"a": 2}, True),
        ("$.a >= 2", {"a": 1.5}, False),
        ("$.a <= 1.5", {"a": 1.5}, True),
        ("$.a > -1", {"a": 0}, True),
        ("$.a == -1.5e3", {"a": -1500}, True),
        ("$.a > 1E2", {"a": 101}, True),
        ("1 < $.a", {"a": 2}, True),
        ("$.a < $.b", {"a": 1, "b": 2}, True),
        # strings
        ('$.s < "b"', {"s": "a"}, True),
        ('$.s > "b"', {"s": "a"}, False),
        ('$.s >= "a"', {"s": "a"}, True),
        ('$.s != "a"', {"s": "b"}, True),
        # type mismatches: ordering is false both ways, equality is false
        ("$.a < 2", {"a": "1"}, False),
        ("$.a >= 2", {"a": "1"}, False),
        ('$.a == "1"', {"a": 1}, False),
        ("$.a == 1", {"a": True}, False),
        ("$.a == 0", {"a": False}, False),
        ("$.a < true", {"a": False}, False),
        ("$.a > $.b", {"a": [2], "b": [1]}, False),
        # booleans and null
        ("$.a == true", {"a": True}, True),
        ("$.a == false", {"a": True}, False),
        ("true", {}, True),
        ("false", {}, False),
        ("null == null", {}, True),
        ("true == $.t", {"t": True}, True),
        # missing paths are null
        ("$.missing == null", {}, True),
        ("$.missing != null", {}, False),
        ("$.missing == 0", {}, False),
        ("$.missing < 1", {}, False),
        ("$.missing > 1", {}, False),
        ("$.missing != 1", {}, True),
        # a bare operand is true only for the boolean true
        ("$.hasMore", {"hasMore": True}, True),
        ("$.hasMore", {"hasMore": False}, False),
        ("$.hasMore", {"hasMore": 1}, False),
        ("$.hasMore", {"hasMore": "true"}, False),
        ("$.hasMore", {}, False),
        ('"x"', {}, False),
        ("1", {}, False),
        # !
        ("!$.hasMore", {"hasMore": False}, True),
        ("!$.hasMore", {}, True),
        ("!$.hasMore", {"hasMore": True}, False),
        ("!!$.x", {"x": True}, True),
        ("!$.a == 1", {"a": 1}, False),  # ! covers the comparison
        ("!$.a == 1", {"a": 2}, True),
        ("!true && false", {}, False),  # ! binds tighter than &&
        ("!false || true", {}, True),
        # precedence: && binds tighter than ||
        ("$.a || $.b && $.c", {"a": True, "b": False, "c": False}, True),
        ("($.a || $.b) && $.c", {"a": True, "b": False, "c": False}, False),
        ("$.a && $.b || $.c", {"a": False, "b": True, "c": True}, True),
        ("$.a && ($.b || $.c)", {"a": False, "b": True, "c": True}, False),
        ("$.a || $.b || $.c", {"c": True}, True),
        ("$.a && $.b && $.c", {"a": True, "b": True, "c": False}, False),
        # parentheses
        ("!($.a == 1 || $.b == 2)", {"a": 1}, False),
        ("!($.a == 1 || $.b == 2)", {"a": 0, "b": 0}, True),
        ("(($.a == 1))", {"a": 1}, True),
        ("($.a == 1) == true", {"a": 1}, True),
        ("($.a == 1) == ($.b == 2)", {"a": 0, "b": 0}, True),
        ("($.a)", {"a": True}, True),
        # string literals: backticks are raw, quotes take escapes
        ('$.s == `a"b`', {"s": 'a"b'}, True),
        ("$.s == `a\\nb`", {"s": "a\\nb"}, True),
        ("$.s == `x`", {"s": "x"}, True),
        ('$.s == "a\\nb"', {"s": "a\nb"}, True),
        ('$.s == "tab\\there"', {"s": "tab\there"}, True),
        ('$.s == "q\\"q"', {"s": 'q"q'}, True),
        ('$.s == "a\\\\b"', {"s": "a\\b"}, True),
        ('$.s == "\\u00e9"', {"s": "é"}, True),
        ('$.s == "\\ud83d\\ude00"', {"s": "😀"}, True),
        ('$.s == "\\/"', {"s": "/"}, True),
        ("$.s == 'it\\'s'", {"s": "it's"}, True),
        ("$.s == 'single'", {"s": "single"}, True),
        ('$.s == ""', {"s": ""}, True),
        ('$.s == "é"', {"s": "é"}, True),
        # wildcards and whole values
        ("$.xs[*].n == $.ns", {"xs": [{"n": 1}, {"n": 2}], "ns": [1, 2]}, True),
        ("$.xs[*].n == $.ns", {"xs": [{"n": 1}, {}], "ns": [1, None]}, True),
        ("$.a == $.b", {"a": {"x": [1, 2.0]}, "b": {"x": [1.0, 2]}}, True),
        ("$.a == $.b", {"a": [1], "b": [True]}, False),
        ("$.a == $.b", {"a": {"x": 1}, "b": {"x": 1, "y": 2}}, False),
        ("$.a == $.b", {"a": [1, 2], "b": [2, 1]}, False),
        # quoted keys, keys named like keywords, whitespace
        ('$["odd key"] == 1', {"odd key": 1}, True),
        ("$.true == 1", {"true": 1}, True),
        ("$.null", {"null": True}, True),
        ("$.a==1&&$.b!=2", {"a": 1, "b": 3}, True),
        ("  $.a\n==\t1  ", {"a": 1}, True),
        ("$.items[0].ok", {"items": [{"ok": True}]}, True),
        ("$.items[-1].ok", {"items": [{"ok": False}, {"ok": True}]}, True),
        ("$input.a == 1", {"a": 1}, True),
        ("$local.a == null", {"a": 1}, True),  # a condition only sees the step input
    ],
)
def test_condition(text: str, data: Any, expected: bool) -> None:
    assert compile_condition(text).evaluate(data) is expected


def test_condition_keeps_its_text() -> None:
    condition = compile_condition('  $.status == "success"\n')
    assert condition.text == '$.status == "success"'


def test_condition_tree() -> None:
    tree = compile_condition("$.a || !$.b && $.c > 1").tree
    assert tree == Or(
        (
            Path("input", ("a",), "$.a"),
            And((Not(Path("input", ("b",), "$.b")), Compare(">", Path("input", ("c",), "$.c"), Literal_(1)))),
        )
    )


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False)])
def test_yaml_boolean_conditions(value: bool, expected: bool) -> None:
    assert compile_condition(value).evaluate({}) is expected


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "a condition must be a non-empty string", None),
        ("   ", "a condition must be a non-empty string", None),
        (None, "a condition must be a non-empty string", None),
        (5, "a condition must be a non-empty string", None),
        ("$.a ==", "cannot parse '$.a ==': it ends too early", 7),
        ("($.a", "cannot parse '($.a': it ends too early", 5),
        ("$.a == 1 == 2", "cannot parse '$.a == 1 == 2': unexpected '==' at column 10", 10),
        ("$.a = 1", "cannot parse '$.a = 1': unexpected '=' at column 5", 5),
        ("$.a === 1", "cannot parse '$.a === 1': unexpected '=' at column 7", 7),
        ("$.a && || $.b", "cannot parse '$.a && || $.b': unexpected '||' at column 8", 8),
        ("$.a)", "cannot parse '$.a)': unexpected ')' at column 4", 4),
        ("$.a + 1", "cannot parse '$.a + 1': unexpected '+' at column 5", 5),
        ("a == 1", "cannot parse 'a == 1': unexpected 'a' at column 1", 1),
        ('"abc', "cannot parse '\"abc': unterminated string at column 1", 1),
        ("$.a == `x", "cannot parse '$.a == `x': unterminated string at column 8", 8),
        ("$.a[x] == 1", "cannot parse '$.a[x] == 1': unexpected 'x' at column 5", 5),
        ("$inputs.a == 1", "cannot parse '$inputs.a == 1': unexpected 's' at column 7", 7),
        ("$.a == [1]", "cannot parse '$.a == [1]': unexpected '[' at column 8", 8),
        ("$.a $.b", "cannot parse '$.a $.b': unexpected '$' at column 5", 5),
    ],
)
def test_bad_conditions(text: Any, message: str, column: int | None) -> None:
    with pytest.raises(ExprError) as raised:
        compile_condition(text)
    assert (str(raised.value), raised.value.column) == (message, column)


# --- properties ------------------------------------------------------------------------------------

KEYS = ["a", "b", "c", "odd key", "é", "true", "x-y", ""]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="ab\"'`\\\né", max_size=4)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=10,
)
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)

segments = st.lists(st.sampled_from(KEYS) | st.integers(-3, 3) | st.none(), max_size=3).map(tuple)
paths = st.builds(
    lambda root, segs: Path(root, segs, ""), st.sampled_from(["input", "input", "local"]), segments
)
literals = st.builds(Literal_, scalars)
OPS = ["==", "!=", "<", "<=", ">", ">="]


def _compound(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return (
        st.builds(Compare, st.sampled_from(OPS), inner, inner)
        | st.builds(Not, inner)
        | st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple))
        | st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple))
    )


trees: st.SearchStrategy[Node] = st.recursive(paths | literals, _compound, max_leaves=8)


def render_path(path: Path, dollar_input: bool) -> str:
    out = "$" if path.root == "input" and not dollar_input else "$" + path.root
    for seg in path.segments:
        if seg is None:
            out += "[*]"
        elif isinstance(seg, int):
            out += f"[{seg}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", seg):
            out += "." + seg
        else:
            out += "[" + json.dumps(seg) + "]"
    return out


def render_literal(value: Any, raw_strings: bool) -> str:
    if isinstance(value, str):
        return f"`{value}`" if raw_strings and "`" not in value else json.dumps(value)
    return json.dumps(value) if value is None or isinstance(value, bool) else repr(value)


def render(node: Node, spaced: bool) -> str:
    """Condition text: ``spaced`` adds blanks and every optional parenthesis, else none at all."""
    sp = " " if spaced else ""

    def sub(child: Node, needs_parens: bool) -> str:
        text = render(child, spaced)
        is_atom = isinstance(child, Path | Literal_)
        return f"({text})" if needs_parens or (spaced and not is_atom) else text

    if isinstance(node, Path):
        return render_path(node, dollar_input=spaced)
    if isinstance(node, Literal_):
        return render_literal(node.value, raw_strings=spaced)
    if isinstance(node, Compare):
        left, right = (sub(n, not isinstance(n, Path | Literal_)) for n in (node.left, node.right))
        return f"{left}{sp}{node.op}{sp}{right}"
    if isinstance(node, Not):
        return "!" + sub(node.operand, isinstance(node.operand, And | Or))
    if isinstance(node, And):
        return f"{sp}&&{sp}".join(sub(n, isinstance(n, And | Or)) for n in node.operands)
    return f"{sp}||{sp}".join(sub(n, isinstance(n, Or)) for n in node.operands)


def shape(node: Node) -> Any:
    """A tree without path texts, to compare a parsed tree with a generated one."""
    if isinstance(node, Path):
        return ("path", node.root, node.segments)
    if isinstance(node, Literal_):
        return ("literal", type(node.value).__name__, node.value)
    if isinstance(node, Compare):
        return ("compare", node.op, shape(node.left), shape(node.right))
    if isinstance(node, Not):
        return ("not", shape(node.operand))
    return (type(node).__name__, tuple(shape(n) for n in node.operands))


# The reference semantics, written out plainly and independently of fnflow.fdl.expr.


def ref_walk(value: Any, segs: tuple[Any, ...]) -> Any:
    if not segs:
        return value
    seg, rest = segs[0], segs[1:]
    if seg is None:
        return [ref_walk(item, rest) for item in value] if isinstance(value, list) else None
    if isinstance(seg, int):
        ok = isinstance(value, list) and -len(value) <= seg < len(value)
        return ref_walk(value[seg], rest) if ok else None
    return ref_walk(value[seg], rest) if isinstance(value, dict) and seg in value else None


def ref_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def ref_equal(a: Any, b: Any) -> bool:
    if ref_kind(a) != ref_kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(ref_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return set(a) == set(b) and all(ref_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def ref_value(node: Node, data: Any) -> Any:
    if isinstance(node, Path):
        return ref_walk(data if node.root == "input" else None, node.segments)
    if isinstance(node, Literal_):
        return node.value
    return ref_test(node, data)


def ref_test(node: Node, data: Any) -> bool:
    if isinstance(node, Compare):
        a, b = ref_value(node.left, data), ref_value(node.right, data)
        if node.op == "==":
            return ref_equal(a, b)
        if node.op == "!=":
            return not ref_equal(a, b)
        if not (ref_kind(a) == ref_kind(b) and ref_kind(a) in ("number", "str")):
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]  # type: ignore[no-any-return]
    if isinstance(node, Not):
        return not ref_test(node.operand, data)
    if isinstance(node, And):
        return all(ref_test(n, data) for n in node.operands)
    if isinstance(node, Or):
        return any(ref_test(n, data) for n in node.operands)
    return ref_value(node, data) is True


@given(trees, st.booleans())
def test_rendered_conditions_parse_back_to_the_same_tree(tree: Node, spaced: bool) -> None:
    assert shape(compile_condition(render(tree, spaced)).tree) == shape(tree)


@given(trees, documents, st.booleans())
def test_evaluation_matches_the_reference(tree: Node, document: dict[str, Any], spaced: bool) -> None:
    condition = compile_condition(render(tree, spaced))
    assert condition.evaluate(document) is ref_test(tree, document)


@given(paths, documents)
def test_paths_render_and_evaluate(path: Path, document: dict[str, Any]) -> None:
    compiled = compile_path(render_path(path, dollar_input=False))
    assert compiled.segments == path.segments
    assert compile_path(compiled.text).segments == path.segments
    scope = {"input": document}
    assert ref_equal(
        compiled.evaluate(scope), ref_walk(document if path.root == "input" else None, path.segments)
    )


@given(trees)
def test_path_texts_in_a_tree_parse_back(tree: Node) -> None:
    def each_path(node: Node) -> list[Path]:
        if isinstance(node, Path):
            return [node]
        if isinstance(node, Compare):
            return each_path(node.left) + each_path(node.right)
        if isinstance(node, Not):
            return each_path(node.operand)
        if isinstance(node, And | Or):
            return [p for n in node.operands for p in each_path(n)]
        return []

    for path in each_path(compile_condition(render(tree, spaced=False)).tree):
        assert compile_path(path.text).segments == path.segments


TOKENS = ["$", "$input", "$local", ".", "a", "[", "]", "*", "0", "-1", "==", "!=", "<", ">=", "&&", "||", "!"]
TOKENS += ["(", ")", '"', "`", "'", "\\", "\\u12", " ", "true", "null", "1.5e3", "é", "\n"]
garbage = st.text() | st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)


@given(garbage)
def test_garbage_compiles_or_raises_expr_error(text: str) -> None:
    try:
        condition = compile_condition(text)
    except ExprError as e:
        assert e.column is None or 1 <= e.column <= len(text) + 1
    else:
        assert isinstance(condition.evaluate({"a": [1, {"b": None}]}), bool)
    try:
        path = compile_path(text)
    except ExprError as e:
        assert e.column is None or 1 <= e.column <= len(text) + 1
    else:
        assert path.text == text.strip()


def test_nesting_is_limited_so_that_nothing_recurses_too_deep() -> None:
    assert compile_condition("!" * 99 + "true").evaluate({}) is False
    assert (
        compile_condition("(" * 1000 + "true" + ")" * 1000).evaluate({}) is True
    )  # parentheses add no depth
    with pytest.raises(ExprError) as raised:
        compile_condition("!" * 1000 + "true")
    assert str(raised.value) == "cannot parse '" + "!" * 77 + "...': nested more than 100 levels deep"
    with pytest.raises(ExprError, match="nested more than 100 levels deep"):
        compile_condition("($.a && " * 100 + "true" + ")" * 100)


def test_deeply_nested_data_compares_without_recursion() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    same: Any = 1
    for _ in range(5000):
        same = {"k": same}
    condition = compile_condition("$.a == $.b")
    assert condition.evaluate({"a": deep, "b": deep}) is True
    assert condition.evaluate({"a": same, "b": same}) is True
    assert condition.evaluate({"a": deep, "b": same}) is False
