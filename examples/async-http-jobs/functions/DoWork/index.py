# The job itself: an event function. It works for the input's "seconds" and says it is done.
import json
import logging
import time


def handler(event, context):
    job = json.loads(event or b"{}")
    seconds = float(job.get("seconds") or 1)
    logging.getLogger().info("working for %s seconds (request %s)", seconds, context.request_id)
    time.sleep(seconds)
    return {"done": True, "seconds": seconds}
