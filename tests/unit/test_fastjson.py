"""fnflow.fastjson: orjson's speed, json's reach for what orjson refuses."""

from __future__ import annotations

import json

import pytest

from fnflow import fastjson


@pytest.mark.parametrize(
    "value",
    [
        {"method": "POST", "headers": [["content-type", "application/json"]], "http": False},
        [["X-Duration-Seconds", "0.000010"]],
        {"text": "naïve ☃", "n": 2**63 - 1, "f": 0.25, "none": None},
    ],
)
def test_round_trip_equals_json(value: object) -> None:
    text = fastjson.dumps(value)
    assert isinstance(text, bytes)
    assert json.loads(text) == value
    assert fastjson.loads(text) == value
    assert fastjson.loads(text.decode()) == value


def test_tuples_are_arrays() -> None:
    assert fastjson.dumps((("a", "b"),)) == b'[["a","b"]]'


@pytest.mark.parametrize(
    "value",
    [{"s": "\udc80"}, {"n": 2**70}, {1: "a"}],
    ids=["lone surrogate", "big integer", "integer key"],
)
def test_what_orjson_refuses_is_written_as_json_writes_it(value: object) -> None:
    text = fastjson.dumps(value)
    text.decode("ascii")  # escaped, as json escapes: a reader in a worker decodes it strictly
    assert text == json.dumps(value, separators=(",", ":")).encode()


@pytest.mark.parametrize("text", ['"\\ud800"', "[NaN]", "[Infinity]"])
def test_what_orjson_refuses_to_read_is_read_as_json_reads_it(text: str) -> None:
    assert repr(fastjson.loads(text)) == repr(json.loads(text))


def test_invalid_text_raises_jsons_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        fastjson.loads(b"{bad")
