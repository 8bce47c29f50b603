# An HTTP function, as Function Compute runs it behind an HTTP trigger: a WSGI application.
#
#   POST /start?flowName=F      (body: the job's input)  ->  {"executionName": "..."}
#   GET  /describe?flowName=F&executionName=E            ->  the execution, as FnF describes it
#
# It calls Serverless Workflow with Alibaba's SDK, signing with the credentials of the function's
# role (context.credentials) and the SDK's default endpoint for the function's region.
import json
from urllib.parse import parse_qs

from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315.DescribeExecutionRequest import DescribeExecutionRequest
from aliyunsdkfnf.request.v20190315.StartExecutionRequest import StartExecutionRequest

fnf = None  # the first client built is kept, as apps on Function Compute do


def client(context):
    global fnf
    if fnf is None:
        creds = context.credentials
        credential = StsTokenCredential(creds.access_key_id, creds.access_key_secret, creds.security_token)
        fnf = AcsClient(credential=credential, region_id=context.region)
    return fnf


def handler(environ, start_response):
    context = environ["fc.context"]
    query = parse_qs(environ["QUERY_STRING"])
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    status, body = "200 OK", b"{}"
    if method == "POST" and path == "/start":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = StartExecutionRequest()
        request.set_FlowName(query["flowName"][0])
        request.set_Input(environ["wsgi.input"].read(length).decode() or "{}")
        started = json.loads(client(context).do_action_with_exception(request))
        body = json.dumps({"executionName": started["Name"]}).encode()
    elif method == "GET" and path == "/describe":
        request = DescribeExecutionRequest()
        request.set_FlowName(query["flowName"][0])
        request.set_ExecutionName(query["executionName"][0])
        body = client(context).do_action_with_exception(request)
    else:
        status, body = "404 Not Found", json.dumps({"message": f"no {method} {path}"}).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [body]
