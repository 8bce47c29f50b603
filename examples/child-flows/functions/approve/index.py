"""Approve a purchase request: report the waiting parent step's task token (it came in the child's
input and so in this step's), then tell the child it is done."""

import json

from fnflow import Client


def handler(event, context):
    request = json.loads(event)
    with Client() as fnflow:  # FNFLOW_URL and FNFLOW_API_KEY come from the function's environment
        fnflow.report_task_succeeded(request["taskToken"], {"approved": True, "approver": "alice"})
    return {"reported": True}
