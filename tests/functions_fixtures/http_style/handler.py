"""python3-http handlers for the runtime tests: what it returns is named by ?case= or the body."""

import os

from .helper import shout


def handle(event, context):
    case = event.query.get("case") or event.body.decode()
    if case == "none":
        return None
    if case == "dict":
        return {"statusCode": 201, "body": {"b": 1, "a": [True, None]}, "headers": {"X-Custom": "yes"}}
    if case == "number":
        return {"body": 42}
    if case == "nobody":
        return {"statusCode": 204}
    if case == "content-type":
        return {"body": "plain", "headers": {"Content-Type": "text/plain", "Content-Length": "999"}}
    if case == "string":
        return "just a string"
    if case == "tuple":
        return ("created", 201)
    if case == "list":
        return [1, "two"]
    if case == "not-found":
        return {"statusCode": 404, "body": "no such thing"}
    if case == "bad-status":
        return {"statusCode": "abc"}
    if case == "raise":
        raise ValueError("bad input")
    if case == "exit":
        os._exit(3)
    if case == "shout":
        return {"body": shout("relative imports work")}
    return {
        "body": {
            "method": event.method,
            "path": event.path,
            "query": event.query,
            "contentType": event.headers.get("content-type"),
            "callId": event.headers["X-CALL-ID"] if "x-call-id" in event.headers else None,
            "body": event.body.decode(),
            "hostname": context.hostname,
        }
    }
