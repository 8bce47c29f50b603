"""Simulates asking a job API for a job's status: "running" until ``delay`` seconds have passed."""

import json
import logging
import time


def handler(event, context):
    evt = json.loads(event)
    job_id = evt["job_id"]
    delay = evt.get("delay") or 60
    status = "success" if time.time() - evt["started_at"] > delay else "running"
    try_count = (evt.get("try_count") or 0) + 1
    logging.getLogger().info("Job %s, status %s, try_count %d", job_id, status, try_count)
    return {"job_id": job_id, "job_status": status, "try_count": try_count}
