"""The long job behind the HTTP API (seed 000's DoWork): works for a while, returns a result."""

import json
import logging
import time


def handler(event, context):
    job = json.loads(event or b"{}").get("input", {})
    logging.getLogger().info("working for %s s", job.get("seconds", 5))
    time.sleep(float(job.get("seconds", 5)))  # the seed's job takes 20 s
    return json.dumps({"outputKey": "outputValue"})
