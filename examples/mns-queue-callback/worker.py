"""The worker of FunctionFlow best practice 4, on fnflow's client: long-poll the fnf-demo queue,
do the task a message describes, report its task token, delete the message.

    FNFLOW_URL=http://127.0.0.1:8080 python worker.py [--once]

A report for a task that has already ended (timed out, stopped, reported by another worker) is a
conflict: the message is deleted all the same. A worker that dies holding a message leaves it
invisible until its visibility timeout, then any worker receives it again.
"""

import json
import sys

from fnflow import Client, ConflictError

QUEUE = "fnf-demo"


def work(fnflow: Client, wait_seconds: float = 10) -> int:
    """Handle what one receive brings; how many messages that was."""
    messages = fnflow.receive_messages(QUEUE, max=16, wait=wait_seconds)
    for message in messages:
        print(f"received message {message.message_id}, body {message.body}")
        body = json.loads(message.body)
        try:
            fnflow.report_task_succeeded(body["task_token"], {"key": body["key"], "worker": "worker.py"})
            print("reported the task succeeded")
        except ConflictError:
            print("the task has already ended")
        fnflow.delete_message(QUEUE, message.receipt_handle)
        print(f"deleted message {message.message_id}")
    return len(messages)


def main() -> None:
    with Client() as fnflow:  # FNFLOW_URL, FNFLOW_API_KEY
        if "--once" in sys.argv:
            work(fnflow, wait_seconds=1)
            return
        while True:
            work(fnflow)


if __name__ == "__main__":
    main()
