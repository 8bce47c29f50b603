"""Ids a server makes (``fnflow.clock``): UUIDv7 text, unique across threads and forked processes,
in time order — though their random bits come from the OS a batch at a time."""

from __future__ import annotations

import os
import threading
import time
import uuid

from fnflow.clock import RandomIds, uuid7, uuid7_text


def test_ids_are_version_7_uuids_that_sort_by_time() -> None:
    first = uuid7_text()
    time.sleep(0.002)
    later = [RandomIds().uuid() for _ in range(3)] + [str(uuid7())]
    for text in [first, *later]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
    assert all(first < text for text in later)


def test_ids_never_repeat_across_threads_or_batches() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(uuid7_text() for _ in range(5_000))  # many batches of random bits each

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for into in made for i in into]
    assert len(set(ids)) == len(ids) == 20_000


def test_a_forked_child_does_not_make_its_parents_next_ids() -> None:
    read, write = os.pipe()
    uuid7_text()  # a batch of random bits is under way in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, "\n".join(uuid7_text() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    ours = {uuid7_text() for _ in range(50)}
    with os.fdopen(read) as pipe:
        theirs = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    strip = lambda ids: {i[14:] for i in ids}  # noqa: E731 - the random part, after the time
    assert len(theirs) == 50
    assert not strip(ours) & strip(theirs)
