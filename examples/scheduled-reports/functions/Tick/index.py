# Called by a timer trigger with Function Compute's timer event; starts a report with the SDK.
# The execution is named after the tick, so a tick delivered twice starts one report.
import json

from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315.StartExecutionRequest import StartExecutionRequest


def handler(event, context):
    timer = json.loads(event)
    flow = json.loads(timer["payload"])["flow"]
    creds = context.credentials
    client = AcsClient(
        credential=StsTokenCredential(creds.access_key_id, creds.access_key_secret, creds.security_token),
        region_id=context.region,
    )
    request = StartExecutionRequest()
    request.set_FlowName(flow)
    request.set_ExecutionName("tick-" + "".join(c for c in timer["triggerTime"] if c.isalnum()))
    request.set_Input(json.dumps({"source": timer["triggerName"], "at": timer["triggerTime"]}))
    started = json.loads(client.do_action_with_exception(request))
    return {"started": started["Name"]}
