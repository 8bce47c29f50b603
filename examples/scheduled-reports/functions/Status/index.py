# An HTTP function (GET /): the reports so far, as FnF lists them.
import json
import os

from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315.ListExecutionsRequest import ListExecutionsRequest


def handler(environ, start_response):
    context = environ["fc.context"]
    creds = context.credentials
    client = AcsClient(
        credential=StsTokenCredential(creds.access_key_id, creds.access_key_secret, creds.security_token),
        region_id=context.region,
    )
    request = ListExecutionsRequest()
    request.set_FlowName(os.environ["FLOW_NAME"])
    listed = json.loads(client.do_action_with_exception(request))
    reports = [
        {"name": e["Name"], "status": e["Status"], "input": json.loads(e["Input"] or "{}")}
        for e in listed["Executions"]
    ]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"reports": reports}).encode()]
