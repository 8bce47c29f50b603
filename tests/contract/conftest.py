"""Fixtures of the store contract suite: every test runs once per backend in ``BACKENDS``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fnflow.store import Store
from tests.contract.backends import BACKENDS, Backend, make_backends


@pytest.fixture(scope="session")
def backends() -> Iterator[dict[str, Backend]]:
    made = make_backends()
    yield made
    for backend in made.values():
        backend.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, backends: dict[str, Backend]) -> Backend:
    return backends[request.param]


@pytest.fixture
def database_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own for this test."""
    with backend.fresh(tmp_path) as url:
        yield url


@pytest.fixture
def open_again(backend: Backend, database_url: str) -> Iterator[Callable[[], Store]]:
    """Opens another store on this test's database; all are closed when the test ends."""
    opened: list[Store] = []

    def open_() -> Store:
        opened.append(backend.open(database_url))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_again: Callable[[], Store]) -> Store:
    return open_again()
