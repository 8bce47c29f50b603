# The worker of FunctionFlow best practice 4 as the seed writes it, in Python 3: receive a task
# with the MNS SDK (aliyun-mns), report it with the FnF SDK (aliyun-python-sdk-fnf), delete the
# message. One line differs: the MNS endpoint may come from MNS_ENDPOINT (fnflow's URL).
import json
import os
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315 import ReportTaskSucceededRequest
from mns.account import Account  # pip install aliyun-mns
from mns.queue import *


def main():
    region = os.environ['REGION']
    account_id = os.environ['ACCOUNT_ID']
    ak_id = os.environ['AK_ID']
    ak_secret = os.environ['AK_SECRET']
    queue_name = "fnf-demo"
    fnf_client = AcsClient(
        ak_id,
        ak_secret,
        region
    )
    mns_endpoint = os.environ.get("MNS_ENDPOINT") or "https://%s.mns.%s.aliyuncs.com" % (account_id, region)
    my_account = Account(mns_endpoint, ak_id, ak_secret)
    my_queue = my_account.get_queue("fnf-demo")
    my_queue.set_encoding(False)
    wait_seconds = 10
    try:
        while True:
            try:
                print("Receiving messages")
                recv_msg = my_queue.receive_message(wait_seconds)
                print("Received message %s, body %s" % (recv_msg.message_id, recv_msg.message_body))
                body = json.loads(recv_msg.message_body)
                task_token = body["task_token"]
                output = "{\"key\": \"value\"}"
                request = ReportTaskSucceededRequest.ReportTaskSucceededRequest()
                request.set_Output(output)
                request.set_TaskToken(task_token)
                resp = fnf_client.do_action_with_exception(request)
                print("Report task succeeded finished")
                my_queue.delete_message(recv_msg.receipt_handle)
                print("Deleted message " + recv_msg.message_id)
            except MNSExceptionBase as e:
                print(e)
            except ServerException as e:
                if e.error_code == 'TaskAlreadyCompleted':
                    my_queue.delete_message(recv_msg.receipt_handle)
                    print("Task already completed, deleted message " + recv_msg.message_id)
    except ServerException as e:
        print(e)


if __name__ == '__main__':
    main()
