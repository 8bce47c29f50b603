"""End-to-end: a foreach whose iterations wait for callbacks, with maxConcurrency 3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, wait

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("foreach"), "--apply", str(HERE)).start()
    yield server.url
    server.stop()


def most_outstanding(events: list[dict[str, object]]) -> int:
    """The most callback tasks waiting at once, in the order the history recorded them."""
    level = peak = 0
    for event in events:
        if event["type"] == "TaskScheduled":
            level += 1
            peak = max(peak, level)
        elif event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
            level -= 1
    return peak


def test_every_image_is_resized_in_order_with_at_most_three_waiting(url: str) -> None:
    images = [f"img-{i}.png" for i in range(10)]
    name = start(url, "resize-all", {"images": images})["name"]
    execution = wait(url, "resize-all", name)
    assert execution["status"] == "Succeeded"
    assert execution["output"] == {"thumbnails": [f"thumbs/{i}" for i in images]}
    events = history(url, "resize-all", name)
    assert sum(e["type"] == "TaskSubmitted" for e in events) == 10
    assert most_outstanding(events) == 3
