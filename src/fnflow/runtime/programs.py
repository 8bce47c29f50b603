"""What the decider keeps between decisions: compiled flows by definition hash (parsed once, shared
by every execution pinned to them), and the flows' records as starts last read them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from fnflow.engine import Program, compile_flow
from fnflow.fdl import parse_flow

T = TypeVar("T")


class Recent(Generic[T]):
    """The ``size`` values used last, by key; the writer threads share it."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: T) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class ProgramCache:
    def __init__(self, size: int = 256) -> None:
        self._programs: Recent[Program] = Recent(size)

    def peek(self, definition_hash: str) -> Program | None:
        """The program for ``definition_hash`` if it is compiled already."""
        return self._programs.get(definition_hash)

    def get(self, definition_hash: str, load: Callable[[], str]) -> Program:
        """The program for ``definition_hash``; ``load`` fetches the text on a miss."""
        program = self._programs.get(definition_hash)
        if program is None:
            program = compile_flow(parse_flow(load()))
            self._programs.put(definition_hash, program)
        return program
