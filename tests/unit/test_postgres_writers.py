"""How many writer threads a PostgreSQL store runs by default: one more than the CPUs, four at most
(on 2 CPUs, 4 writers' threads waited for one another: bench/README.md, thirteenth round)."""

from __future__ import annotations

import pytest

from fnflow.store.postgres import available_cpus, default_writers


@pytest.mark.parametrize(("cpus", "writers"), [(1, 2), (2, 3), (3, 4), (8, 4), (64, 4)])
def test_one_writer_more_than_the_cpus_and_four_at_most(cpus: int, writers: int) -> None:
    assert default_writers(cpus) == writers


def test_the_cpus_are_those_this_process_may_use() -> None:
    import os

    assert available_cpus() == len(os.sched_getaffinity(0))
