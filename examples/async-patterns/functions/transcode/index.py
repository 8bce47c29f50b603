"""A long-running job (a transcode, say): takes `seconds`, returns where the result is."""

import json
import time


def handler(event, context):
    job = json.loads(event or b"{}")
    time.sleep(float(job.get("seconds", 2)))
    return json.dumps(
        {"output": f"oss://videos/{job.get('id', context.request_id)}.mp4", "callId": context.request_id}
    )
