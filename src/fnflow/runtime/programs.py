"""Compiled flows by definition hash: parsed once, shared by every execution pinned to them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from fnflow.engine import Program, compile_flow
from fnflow.fdl import parse_flow


class ProgramCache:
    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[str, Program] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, definition_hash: str) -> Program | None:
        """The program for ``definition_hash`` if it is compiled already."""
        with self._lock:
            return self._items.get(definition_hash)

    def get(self, definition_hash: str, load: Callable[[], str]) -> Program:
        """The program for ``definition_hash``; ``load`` fetches the text on a miss."""
        with self._lock:
            program = self._items.get(definition_hash)
            if program is not None:
                self._items.move_to_end(definition_hash)
                return program
        program = compile_flow(parse_flow(load()))
        with self._lock:
            self._items[definition_hash] = program
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return program
