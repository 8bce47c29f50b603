"""Simulates submitting a long-running job (e.g. a media transcode) and returns its id."""

import json
import logging
import time
import uuid


def handler(event, context):
    job_id = str(uuid.uuid4())
    logging.getLogger().info("Started job with ID %s", job_id)
    return json.dumps({"job_id": job_id, "started_at": time.time()})
