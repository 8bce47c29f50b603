"""The Timer template's ``hello`` function: greets whoever the schedule's payload names."""

import json
import logging


def handler(event, context):
    name = json.loads(event or b"{}").get("name") or "world"
    logging.getLogger().info("hello, %s", name)
    return {"message": f"hello, {name}"}
