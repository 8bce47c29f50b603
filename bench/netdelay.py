"""A network between fnflow and PostgreSQL, on loopback: a TCP proxy that holds every chunk for a
while each way, so a round trip costs what it would between two machines.

A process of its own (its CPU is not the client's), on asyncio's default loop, whose timers have
a millisecond's grain: ``--delay-ms 1`` gives a round trip of about 2.5 ms here (the proxy's own
hops included), sub-millisecond delays round to nothing. The kernel's ``netem`` would be finer
but is not on every machine. Loopback only.

    with delayed("127.0.0.1", 5432, 1.0) as port: ...  # connect to 127.0.0.1:port instead
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

from fnflow.testing import free_port


@contextlib.contextmanager
def delayed(host: str, target: int, delay_ms: float) -> Iterator[int]:
    """A proxy on 127.0.0.1 to ``host``:``target`` delaying ``delay_ms`` each way; yields its port."""
    port = free_port()
    command = [sys.executable, __file__, str(port), host, str(target), "--delay-ms", str(delay_ms)]
    proxy = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout is not None and proxy.stdout.readline().strip() == "ready"
        yield port
    finally:
        proxy.kill()
        proxy.wait()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy one direction, each chunk ``delay`` seconds after it arrived, in order."""
    held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await held.get()
            if not data:
                writer.close()
                return
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)

    sending = asyncio.create_task(send())
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            held.put_nowait((time.monotonic() + delay, data))
    held.put_nowait((0.0, b""))
    await sending


async def _serve(listen: int, host: str, target: int, delay: float) -> None:
    async def connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pump(client_reader, server_writer, delay),
            _pump(server_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(connection, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen", type=int)
    parser.add_argument("host")
    parser.add_argument("target", type=int)
    parser.add_argument("--delay-ms", type=float, required=True)
    options = parser.parse_args()
    asyncio.run(_serve(options.listen, options.host, options.target, options.delay_ms / 1000))
