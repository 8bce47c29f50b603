"""Built-in queues: messages/s sent, and received + deleted, through the HTTP API of a real server.

Each send is committed before it answers; each worker receives up to ``--batch`` messages at once
and deletes each (one request per delete), as a worker that does its work one message at a time
would. Baseline, same run and same concurrency: ``POST /bin/NAME`` (the request bin), the cheapest
durable write the API has (one row per request).

    .venv/bin/python bench/queues.py --count 3000 --concurrency 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from fnflow import Client
from fnflow.testing import ServerProcess


def rate(count: int, concurrency: int, job: Callable[[httpx.Client, int], int]) -> float:
    """Items/s of ``job(client, i)`` (how many it handled), run ``count`` times on ``concurrency`` threads."""
    clients = [httpx.Client(timeout=60) for _ in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(lambda i: job(clients[i % concurrency], i), range(count)))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16, help="messages a receive asks for (1-16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        server = ServerProcess(Path(root)).start()
        try:
            api = f"{server.url}/api/v1"
            with Client(server.url, api_key="") as fnf:
                fnf.put_queue("bench", visibility_timeout=300)

            def bin_post(http: httpx.Client, i: int) -> int:
                http.post(f"{server.url}/bin/bench", content=f"m{i}").raise_for_status()
                return 1

            def send(http: httpx.Client, i: int) -> int:
                http.post(f"{api}/queues/bench/messages", json={"body": f"m{i}"}).raise_for_status()
                return 1

            def drain(http: httpx.Client, _: int) -> int:
                response = http.get(f"{api}/queues/bench/messages", params={"max": args.batch, "wait": 0})
                messages = response.raise_for_status().json()["messages"]
                for m in messages:
                    http.delete(f"{api}/queues/bench/messages/{m['receiptHandle']}").raise_for_status()
                return len(messages)

            baseline = rate(args.count, args.concurrency, bin_post)
            sent = rate(args.count, args.concurrency, send)
            polls = args.count // args.batch + 2 * args.concurrency  # enough to empty the queue
            drained = rate(polls, args.concurrency, drain)
            left = httpx.get(f"{api}/queues/bench").json()
        finally:
            server.stop()
    print(f"{args.count} messages, {args.concurrency} concurrent clients, receive batches of {args.batch}")
    print(f"POST /bin (baseline)       {baseline:8.0f} requests/s")
    print(f"send                       {sent:8.0f} messages/s  ({sent / baseline:.2f}x baseline)")
    print(f"receive + delete each      {drained:8.0f} messages/s")
    print(f"left in the queue: {left['activeMessages']} visible, {left['inactiveMessages']} received")


if __name__ == "__main__":
    main()
