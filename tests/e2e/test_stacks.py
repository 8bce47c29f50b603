"""Stacks on a real server: a plan is checked whole (nothing changes when any of it is wrong),
applied only where it differs, pruned of what it no longer has, and never takes over a name it did
not deploy."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fnflow import Client
from fnflow.client import ApiError
from fnflow.functions import codepkg
from fnflow.functions.config import FunctionConfig
from fnflow.functions.triggers import TriggerSpec
from fnflow.services.stackplan import PlannedFlow, PlannedFunction, PlannedQueue, PlannedTrigger, StackPlan
from fnflow.testing import ServerProcess

pytestmark = pytest.mark.e2e
CODE = codepkg.pack_files({"index.py": b"def handler(event, context):\n    return {}\n"})
PASS = "version: v1\ntype: flow\nsteps:\n  - {type: pass, name: p}\n"
SEND = (
    "version: v1\ntype: flow\nsteps:\n"
    "  - {type: task, name: s, resourceArn: 'acs:mns:::/queues/%s/messages'}\n"
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    server = ServerProcess(tmp_path_factory.mktemp("stacks")).start()
    with Client(server.url) as connected:
        yield connected
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def fails(client: Client, name: str, plan: StackPlan, status: int, words: str) -> None:
    with pytest.raises(ApiError) as raised:
        client.deploy_stack(name, plan)
    assert raised.value.status == status and words in raised.value.message, raised.value.message


def function(name: str) -> PlannedFunction:
    return PlannedFunction(FunctionConfig("apps", name, handler="index.handler"), CODE, name.title())


def test_a_plan_wrong_anywhere_changes_nothing(client: Client) -> None:
    timer = TriggerSpec("apps", "ghost", "t", "timer", cron_expression="0 * * * * *")
    plan = StackPlan(
        functions=(function("real"),),
        triggers=(PlannedTrigger(timer, "T"),),
        flows=(PlannedFlow("f1", PASS),),
    )
    fails(client, "bad", plan, 404, "trigger apps/ghost/t (resource T): function apps/ghost does not exist")
    fails(client, "bad", StackPlan(flows=(PlannedFlow("f1", SEND % "nope"),)), 404, "queue 'nope'")
    fails(client, "bad", StackPlan(flows=(PlannedFlow("f1", "steps: 3"),)), 400, "flow f1")
    every_minute = TriggerSpec("apps", "real", "t", "timer", cron_expression="*/5 * * * * *")
    fails(client, "bad", StackPlan((function("real"),), (PlannedTrigger(every_minute),)), 400, "Seconds")
    assert [s.name for s in client.list_stacks()] == []
    with pytest.raises(ApiError):
        client.get_function("real", service="apps")

    dry = client.deploy_stack("dry", StackPlan(queues=(PlannedQueue("dq"),)), dry_run=True)
    assert dry.dry_run and [(c.kind, c.action) for c in dry.changes] == [("queue", "created")]
    assert [s.name for s in client.list_stacks()] == []

    answer = httpx.put(f"{client.url}/api/v1/stacks/raw", content=b"{not json")
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidArgument"
    answer = httpx.put(f"{client.url}/api/v1/stacks/raw", json={"queues": [{"nme": "x"}]})
    assert answer.status_code == 400 and "queues.0" in answer.json()["message"]


def test_updates_in_place_and_prunes(client: Client) -> None:
    plan = StackPlan(
        queues=(PlannedQueue("jobs"),), flows=(PlannedFlow("send", SEND % "jobs"), PlannedFlow("other", PASS))
    )
    first = client.deploy_stack("app", plan, description="an app")
    assert {(c.name, c.action) for c in first.changes} == {
        ("jobs", "created"),
        ("send", "created"),
        ("other", "created"),
    }
    smaller = StackPlan(queues=plan.queues, flows=(PlannedFlow("send", SEND % "jobs", "changed"),))
    second = client.deploy_stack("app", smaller)
    assert [(c.name, c.action) for c in second.changes] == [
        ("jobs", "unchanged"),
        ("send", "updated"),
        ("other", "deleted"),
    ]
    assert [r.name for r in client.get_stack("app").resources] == ["jobs", "send"]
    with pytest.raises(ApiError):
        client.get_flow("other")
    assert client.get_flow("send").description == "changed"


def test_names_taken_by_others_are_refused(client: Client) -> None:
    client.deploy_stack("owner", StackPlan(queues=(PlannedQueue("shared"),)))
    fails(client, "thief", StackPlan(queues=(PlannedQueue("shared"),)), 409, "belongs to stack 'owner'")
    client.put_queue("loose")
    fails(client, "thief", StackPlan(queues=(PlannedQueue("loose"),)), 409, "belongs to no stack")
    deleted = client.delete_stack("owner")
    assert [(c.name, c.action) for c in deleted.changes] == [("shared", "deleted")]
    with pytest.raises(ApiError) as raised:
        client.delete_stack("owner")
    assert raised.value.status == 404
