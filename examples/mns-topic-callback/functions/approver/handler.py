"""The topic's subscriber (an OpenFaaS python3-http function): the push is MNS's JSON
notification, whose ``Message`` is the flow step's message body; report the task token in it."""

import json

from fnflow import Client


def handle(event, context):
    notification = json.loads(event.body)
    message = json.loads(notification["Message"])
    print(f"task token: {message['taskToken'][:16]}…, message body: {message['messageBody']}")
    with Client() as fnflow:  # FNFLOW_URL and FNFLOW_API_KEY come from the function's environment
        fnflow.report_task_succeeded(message["taskToken"], {"status": "success"})
    return {"statusCode": 200, "body": "OK"}
