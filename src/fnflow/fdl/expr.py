"""Paths and condition expressions of FDL, parsed by a real grammar and evaluated on JSON data.

Paths name a value in a scope: ``$input.a.b``, ``$local[*].name``, ``$context.task.token``,
``$.key`` (the step's own input), ``$.items[0]``, ``$.m["odd key"]``.

Conditions (``choice.condition``) combine paths and literals::

    $.status == "success" && $.try_count > 3
    !($.a < 1 || $.b != `x`)
    $.hasMore

Semantics, chosen to never raise at run time:
- a path that does not exist yields ``null``;
- ``==``/``!=`` compare JSON values (``1 == 1.0``; booleans are not numbers);
- ``< <= > >=`` hold only between two numbers or two strings, otherwise they are false;
- a bare operand is a test: true only for the boolean ``true``;
- ``!`` negates what follows, a comparison included (``!$.a == 1`` is ``!($.a == 1)``);
  ``&&`` binds tighter than ``||``; both short-circuit.
Keys after a dot are ASCII letters, digits, ``_`` and ``-`` (``$.a-b`` is one key); any other key
is written quoted: ``$.m["odd key"]``. Strings take JSON escapes; backtick strings are raw.
Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

Root = Literal["input", "local", "context"]
Segment = str | int | None  # a key, an index, or None for the [*] wildcard

_GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr | and_expr ("||" and_expr)+    -> or_
?and_expr: not_expr | not_expr ("&&" not_expr)+   -> and_
?not_expr: "!" not_expr              -> not_
         | comparison
?comparison: operand (COMPARE operand)?
?operand: path | literal | "(" expr ")"
literal: STRING | RAW_STRING | NUMBER | TRUE | FALSE | NULL
path: ROOT segment*
segment: "." NAME                    -> key
       | "[" INT "]"                 -> index
       | "[" "*" "]"                 -> wildcard
       | "[" STRING "]"              -> quoted_key

ROOT: "$input" | "$local" | "$context" | "$"
NAME: /[A-Za-z0-9_\-]+/
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
TRUE.2: "true"
FALSE.2: "false"
NULL.2: "null"
INT: /-?\d+/
NUMBER: /-?\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
RAW_STRING: /`[^`]*`/
%ignore /[ \t\r\n]+/
"""

MAX_NESTING = 100
_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)
_PATH_PARSER = Lark(_GRAMMAR, parser="lalr", start="path", maybe_placeholders=False)


class ExprError(ValueError):
    """An expression that does not parse; ``column`` is 1-based within the expression text."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Path:
    """A compiled reference such as ``$local[*].name``."""

    root: Root
    segments: tuple[Segment, ...]
    text: str

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        return _walk(scope.get(self.root), self.segments)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Const:
    """A mapping source that is a constant value."""

    value: Any

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        return self.value


Source = Path | Const


def _walk(value: Any, segments: tuple[Segment, ...]) -> Any:
    for i, seg in enumerate(segments):
        if seg is None:
            if not isinstance(value, list):
                return None
            rest = segments[i + 1 :]
            return [_walk(item, rest) for item in value]
        if isinstance(seg, int):
            if not isinstance(value, list) or not -len(value) <= seg < len(value):
                return None
            value = value[seg]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(seg)
    return value


# --- conditions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal_:
    value: Any


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Path | Literal_ | Compare | Not | And | Or


@dataclass(frozen=True)
class Condition:
    """A compiled ``choice`` condition; ``$`` refers to the step's input."""

    text: str
    tree: Node

    def evaluate(self, data: Any) -> bool:
        return _test(self.tree, {"input": data})


def _value(node: Node, scope: Mapping[str, Any]) -> Any:
    if isinstance(node, Path):
        return node.evaluate(scope)
    if isinstance(node, Literal_):
        return node.value
    return _test(node, scope)


def _test(node: Node, scope: Mapping[str, Any]) -> bool:
    if isinstance(node, Compare):
        return _compare(node.op, _value(node.left, scope), _value(node.right, scope))
    if isinstance(node, Not):
        return not _test(node.operand, scope)
    if isinstance(node, And):
        return all(_test(n, scope) for n in node.operands)
    if isinstance(node, Or):
        return any(_test(n, scope) for n in node.operands)
    return _value(node, scope) is True


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "!="):
        equal = json_equal(a, b)
        return equal if op == "==" else not equal
    if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value, booleans only equal booleans.

    Iterative, so deeply nested input data cannot make a condition raise RecursionError.
    """
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(x, dict) and isinstance(y, dict):
            if x.keys() != y.keys():
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif not _scalar_equal(x, y):
            return False
    return True


def _scalar_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")  # the grammar's NAME: keys written as .key
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'", "/": "/"}


def _render(root: str, segments: tuple[Segment, ...]) -> str:
    parts = [root]
    for seg in segments:
        if seg is None:
            parts.append("[*]")
        elif isinstance(seg, int):
            parts.append(f"[{seg}]")
        elif _PLAIN_KEY.fullmatch(seg):
            parts.append(f".{seg}")
        else:
            parts.append("[" + json.dumps(seg, ensure_ascii=False) + "]")
    return "".join(parts)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if len(code) == 5:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, "\\" + code)  # an unknown escape stays as written


def _unquote(token: str) -> str:
    """The value of a string literal: backticks are raw; quotes take JSON escapes (and \\')."""
    body = token[1:-1]
    if token[0] == "`":
        return body
    text = _ESCAPE.sub(_unescape, body)
    # \uD83D\uDE00 (as json.dumps writes astral characters) is one character, not two surrogates.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


@v_args(inline=True)
class _Build(Transformer[Token, Node]):
    def key(self, name: Token) -> str:
        return str(name)

    def index(self, i: Token) -> int:
        return int(i)

    def wildcard(self) -> None:
        return None

    def quoted_key(self, s: Token) -> str:
        return _unquote(str(s))

    def path(self, root: Token, *segments: Segment) -> Path:
        name = str(root)[1:] or "input"
        return Path(name, segments, _render(str(root), segments))  # type: ignore[arg-type]

    def literal(self, tok: Token) -> Literal_:
        kind, raw = tok.type, str(tok)
        if kind in ("STRING", "RAW_STRING"):
            return Literal_(_unquote(raw))
        if kind == "NUMBER":
            return Literal_(float(raw) if any(c in raw for c in ".eE") else int(raw))
        return Literal_({"TRUE": True, "FALSE": False, "NULL": None}[kind])

    def comparison(self, left: Node, op: Token, right: Node) -> Compare:
        return Compare(str(op), left, right)

    def not_(self, operand: Node) -> Not:
        return Not(operand)

    def and_(self, *operands: Node) -> Node:
        return And(operands)

    def or_(self, *operands: Node) -> Node:
        return Or(operands)


def _parse(parser: Lark, text: str) -> Node:
    shown = repr(text) if len(text) <= 80 else repr(text[:77] + "...")
    try:
        tree = parser.parse(text)
    except UnexpectedCharacters as e:
        what = "unterminated string" if e.char in "\"'`" else f"unexpected {e.char!r}"
        raise ExprError(f"cannot parse {shown}: {what} at column {e.column}", e.column) from None
    except UnexpectedToken as e:
        if e.token.type != "$END":
            column = e.token.column
            raise ExprError(
                f"cannot parse {shown}: unexpected {str(e.token)!r} at column {column}", column
            ) from None
        raise ExprError(f"cannot parse {shown}: it ends too early", len(text) + 1) from None
    except UnexpectedInput:
        raise ExprError(f"cannot parse {shown}: it ends too early", len(text) + 1) from None
    if _depth(tree) > MAX_NESTING:  # building and evaluating the tree recurse
        raise ExprError(f"cannot parse {shown}: nested more than {MAX_NESTING} levels deep")
    return _Build().transform(tree)


def _depth(tree: Tree[Token]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def compile_path(text: str) -> Path:
    """Compile a path such as ``$.a.b`` or ``$input.items[0]``; raises ExprError."""
    if not isinstance(text, str) or not text.strip().startswith("$"):
        raise ExprError(f"expected a path such as $.key (got {text!r})", 1)
    node = _parse(_PATH_PARSER, text)
    assert isinstance(node, Path)
    return Path(node.root, node.segments, text.strip())


def is_path(value: Any) -> bool:
    """Whether a mapping source is a reference rather than a constant (the FDL rule)."""
    if not isinstance(value, str):
        return False
    v = value.strip()
    return v == "$" or v.startswith(("$.", "$[", "$input", "$local", "$context"))


def compile_source(value: Any) -> Source:
    """A mapping source: a path if it starts with ``$input``, ``$local``, ``$context`` or ``$.``.

    Anything else is a constant (the FDL rule).
    """
    return compile_path(value) if is_path(value) else Const(value)


def compile_condition(text: str | bool) -> Condition:
    """Compile a ``choice`` condition; raises ExprError with the column of the problem.

    YAML reads ``condition: true`` as a boolean, so booleans are accepted as the constant condition.
    """
    if isinstance(text, bool):
        text = "true" if text else "false"
    if not isinstance(text, str) or not text.strip():
        raise ExprError("a condition must be a non-empty string")
    return Condition(text.strip(), _parse(_PARSER, text))
