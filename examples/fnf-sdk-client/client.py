"""Start a job and ask how it is doing, with Alibaba's FnF SDK, as seed 000's HttpAPI does.

    python client.py start async-work '{"seconds": 5}'     -> {"executionName": "…"}
    python client.py describe async-work <executionName>   -> DescribeExecution's answer

Keys come from ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (``fnflow keys
create``), the region from ALIBABA_CLOUD_REGION_ID (default cn-hangzhou). Nothing here names
fnflow: the SDK goes to the region's FnF endpoint, which reaches fnflow when HTTP_PROXY is the
fnflow server (http://127.0.0.1:8080). FNF_ENDPOINT (host:port), if set, is used instead.
"""

import json
import os
import sys

from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315.DescribeExecutionRequest import DescribeExecutionRequest
from aliyunsdkfnf.request.v20190315.StartExecutionRequest import StartExecutionRequest

fnf_client = AcsClient(
    os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
    os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
    os.environ.get("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou"),
)
endpoint = os.environ.get("FNF_ENDPOINT")


def start_execution(flow_name, input):
    request = StartExecutionRequest()
    request.set_FlowName(flow_name)
    request.set_Input(input)
    if endpoint:
        request.set_endpoint(endpoint)
    return fnf_client.do_action_with_exception(request)


def describe_execution(flow_name, execution_name, wait_seconds=0):
    request = DescribeExecutionRequest()
    request.set_FlowName(flow_name)
    request.set_ExecutionName(execution_name)
    if wait_seconds:
        request.set_WaitTimeSeconds(wait_seconds)
        request.set_read_timeout(wait_seconds + 10)  # the SDK's default is 10 s
    if endpoint:
        request.set_endpoint(endpoint)
    return fnf_client.do_action_with_exception(request)


def main(argv):
    if len(argv) >= 2 and argv[0] == "start":
        answer = json.loads(start_execution(argv[1], argv[2] if len(argv) > 2 else "{}"))
        print(json.dumps({"executionName": answer["Name"]}))
    elif len(argv) >= 3 and argv[0] == "describe":
        wait = int(argv[3]) if len(argv) > 3 else 0
        print(describe_execution(argv[1], argv[2], wait).decode())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
