"""Resize an image, then report the waiting iteration's task token (the function runs from the
asynchronous queue; the flow's step waits for the report, not for the function's return)."""

import json
import time

from fnflow import Client


def handler(event, context):
    task = json.loads(event)
    time.sleep(0.2)  # the work
    with Client() as fnflow:  # FNFLOW_URL and FNFLOW_API_KEY come from the function's environment
        fnflow.report_task_succeeded(task["taskToken"], {"thumbnail": f"thumbs/{task['image']}"})
    return "reported"
