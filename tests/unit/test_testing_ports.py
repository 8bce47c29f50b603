"""``fnflow.testing.free_port``: each pytest-xdist worker hands out ports from a range of its own,
below the kernel's ephemeral ports, so a port freed by a killed server is not another worker's
next server's while a test restarts its own on it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fnflow import testing


def test_a_worker_takes_ports_from_its_own_range_and_passes_over_taken_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    first = testing.FIRST_PORT + 3 * testing.PORTS_PER_WORKER
    mine = range(first, first + testing.PORTS_PER_WORKER)
    port = testing.free_port()
    assert port in mine
    with socket.create_server(("127.0.0.1", port)):  # a server still has it
        later = [testing.free_port() for _ in range(testing.PORTS_PER_WORKER)]
    assert all(p in mine for p in later) and port not in later
    low, _ = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    last = testing.FIRST_PORT + testing.WORKER_RANGES * testing.PORTS_PER_WORKER
    assert last <= low, "the kernel would hand out these ports for its own connections"


def test_outside_pytest_xdist_the_kernel_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    port = testing.free_port()
    with socket.create_server(("127.0.0.1", port)):
        pass
