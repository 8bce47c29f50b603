"""A manual review, automated: decide, then report the decision to the waiting flow step with its
task token (ReportTaskSucceeded / ReportTaskFailed)."""

import json
import time

from fnflow import Client


def report_later(token, verdict):
    time.sleep(1)  # the reviewer takes a moment
    with Client() as fnflow:  # FNFLOW_URL and FNFLOW_API_KEY come from the function's environment
        if verdict == "approve":
            fnflow.report_task_succeeded(token, {"approved": True})
        else:
            fnflow.report_task_failed(token, "Rejected", "the reviewer said no")


def handler(event, context):
    task = json.loads(event)
    report_later(task["taskToken"], task.get("verdict", "approve"))
    return "reported"
