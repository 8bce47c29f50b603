"""A classic python3 handler for the runtime tests: what it does is named by the body."""

import json
import os


def handle(req):
    if req == "env":
        return json.dumps({k: v for k, v in sorted(os.environ.items()) if k.startswith("Http_")})
    if req == "print":
        print("printed first")
        return "then returned"
    if req == "none":
        return None
    if req == "raise":
        raise RuntimeError("classic boom")
    return req
