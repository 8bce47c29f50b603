"""The ceiling for accepting an async call (spec/peers.md §1): read the body, answer 202 with a fresh
X-Call-Id, store nothing. Run under uvicorn exactly as fnflow is."""

import uuid


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [(b"x-call-id", str(uuid.uuid4()).encode())],
        }
    )
    await send({"type": "http.response.body", "body": b""})
