"""End-to-end: schedules fire their ticks on time, once each, with their payload as input.

Schedules may fire every second (``@every 2s``, ``* * * * * *``): one second is the minimum.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from fnflow import Client, Execution, ForbiddenError, NotFoundError, Schedule
from fnflow.schedules.scheduler import LATE
from fnflow.services.keys import new_key
from fnflow.store import Tx, open_store
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.e2e.cli import fields, fnflow
from tests.postgres import no_postgres

pytestmark = pytest.mark.e2e

T = TypeVar("T")
FAST = {"FNFLOW_SCHEDULE_MIN_INTERVAL": "1"}
ECHO = """\
version: v1
type: flow
steps:
  - type: pass
    name: Echo
    outputMappings:
      - target: who
        source: $input.who
"""


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A server whose schedules may fire every second, with the flow ``echo``."""
    server = ServerProcess(tmp_path_factory.mktemp("fast"), env=FAST).start()
    with Client(server.url) as client:
        client.put_flow("echo", ECHO)
        yield client
    server.stop()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with the default (FnF's) minimum interval, and the flow ``echo``."""
    server = ServerProcess(tmp_path_factory.mktemp("default")).start()
    with Client(server.url) as client:
        client.put_flow("echo", ECHO)
    yield server.url
    server.stop()


def eventually(probe: Callable[[], T | None], timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        assert time.monotonic() < deadline, f"not so after {timeout}s"
        time.sleep(0.1)
    return found


def runs(client: Client, schedule: str, flow: str = "echo") -> list[Execution]:
    """The executions a schedule started, oldest tick first."""
    return sorted(client.iter_executions(flow, name_prefix=f"{schedule}-"), key=lambda e: e.name)


def tick_of(execution: Execution) -> datetime:
    return datetime.strptime(execution.name.rpartition("-")[2], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def at_least(client: Client, schedule: str, count: int, flow: str = "echo") -> list[Execution]:
    return eventually(lambda: found if len(found := runs(client, schedule, flow)) >= count else None)


def test_ticks_fire_on_time_once_each_with_the_payload(fast: Client) -> None:
    created = fast.put_schedule("echo", "every2s", "*/2 * * * * *", payload={"n": 1, "who": "cron"})
    assert created.next_fire_time is not None and created.next_fire_time.second % 2 == 0
    started = at_least(fast, "every2s", 3)
    ticks = [tick_of(e) for e in started]
    every_2s = [ticks[0] + timedelta(seconds=2 * i) for i in range(len(ticks))]
    assert ticks == every_2s  # none missed, none twice
    for execution, tick in zip(started, ticks, strict=True):
        assert execution.input == {"n": 1, "who": "cron"}
        assert execution.started_time is not None
        assert execution.started_time >= tick  # never early (how late depends on the machine's load)
    starts = [e.started_time for e in started]
    assert starts == sorted(starts)  # in the order of their ticks
    done = fast.wait_execution("echo", started[0].name, timeout=10)
    assert done.succeeded and done.output == {"who": "cron"}
    fast.delete_schedule("echo", "every2s")


@pytest.mark.slow
def test_disable_stops_enable_resumes_and_delete_removes(fast: Client) -> None:
    fast.put_schedule("echo", "toggled", "* * * * * *", payload={"k": "v"})
    at_least(fast, "toggled", 2)
    disabled = fast.put_schedule("echo", "toggled", "* * * * * *", payload={"k": "v"}, enabled=False)
    assert not disabled.enabled and disabled.next_fire_time is None
    off_since = datetime.now(UTC)
    before = len(runs(fast, "toggled"))
    time.sleep(3)
    assert len(runs(fast, "toggled")) == before
    on = fast.put_schedule("echo", "toggled", "* * * * * *", payload={"k": "v"})
    assert on.next_fire_time is not None and on.next_fire_time > off_since + timedelta(seconds=3)
    resumed = at_least(fast, "toggled", before + 2)
    replayed = [e.name for e in resumed[before:] if tick_of(e) <= off_since + timedelta(seconds=3)]
    assert replayed == []  # ticks passed while disabled are not made up
    fast.delete_schedule("echo", "toggled")
    with pytest.raises(NotFoundError, match="schedule 'toggled' of flow 'echo' does not exist"):
        fast.get_schedule("echo", "toggled")
    after = len(runs(fast, "toggled"))
    time.sleep(2.5)
    assert len(runs(fast, "toggled")) == after


def test_a_payload_change_keeps_the_rhythm(fast: Client) -> None:
    first = fast.put_schedule("echo", "rhythm", "@every 3s", payload={"v": 1})
    again = fast.put_schedule("echo", "rhythm", "@every 3s", payload={"v": 2})
    assert again.id == first.id and again.next_fire_time == first.next_fire_time
    (run,) = at_least(fast, "rhythm", 1)
    assert run.input == {"v": 2} and tick_of(run) == first.next_fire_time
    fast.delete_schedule("echo", "rhythm")


@pytest.mark.slow
def test_after_a_crash_only_the_latest_missed_tick_fires(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env=FAST).start()
    try:
        with Client(server.url) as client:
            client.put_flow("echo", ECHO)
            client.put_schedule("echo", "s", "* * * * * *")
            at_least(client, "s", 1)
        server.kill()
        down = datetime.now(UTC)
        time.sleep(3)  # two whole-second ticks at least fall between down and up - 1 s: neither may fire
        up = datetime.now(UTC)
        server.start()
        with Client(server.url) as client:
            ticks = [tick_of(e) for e in at_least(client, "s", 3)]
        replayed = [t for t in ticks if down < t <= up - timedelta(seconds=1)]
        assert replayed == [], f"missed ticks fired: {replayed}"
        assert any(t > down for t in ticks)  # the latest missed tick (or a later one) fired
    finally:
        server.stop()


@pytest.mark.slow
def test_missed_ticks_fire_once_or_are_skipped_as_each_schedule_says(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        with Client(server.url) as client:
            client.put_flow("echo", ECHO)
            once = client.put_schedule("echo", "once", "*/10 * * * * *")
            skip = client.put_schedule("echo", "skip", "*/10 * * * * *", missed_ticks="skip")
            assert (once.missed_ticks, skip.missed_ticks) == ("fireOnce", "skip")
            assert once.next_fire_time is not None and skip.next_fire_time is not None
            # the same tick, or the next if the two were made either side of one: both miss the later
            assert timedelta(0) <= skip.next_fire_time - once.next_fire_time <= timedelta(seconds=10)
            missed = skip.next_fire_time
        server.kill()
        time.sleep(max(0.0, (missed - datetime.now(UTC)).total_seconds()) + LATE + 1.5)
        began = datetime.now(UTC)
        server.start()
        with Client(server.url) as client:
            fired = at_least(client, "once", 1)
            assert len(fired) == 1 or tick_of(fired[1]) > began
            assert missed <= tick_of(fired[0])  # the latest tick missed, fired once (late)
            time.sleep(1)
            assert all(tick_of(e) > began for e in runs(client, "skip")), "a missed tick fired"
            assert client.get_schedule("echo", "skip").next_fire_time > missed  # type: ignore[operator]
    finally:
        server.stop()


def test_errors_and_the_one_second_minimum(url: str) -> None:
    api = f"{url}/api/v1"

    def put(path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.put(f"{api}/{path}", json=body, timeout=10)

    bad = put("flows/echo/schedules/s", {"cronExpression": "0 0 25 * * *"})
    assert bad.status_code == 400
    assert bad.json() == {
        "code": "InvalidArgument",
        "message": "cronExpression '0 0 25 * * *': Hours field '25': 25 is out of range 0-23",
    }
    too_often = put("flows/echo/schedules/s", {"cronExpression": "@every 0s"})
    assert too_often.status_code == 400 and "the minimum is 1 s" in too_often.json()["message"]
    missed = put("flows/echo/schedules/s", {"cronExpression": "@every 2s", "missedTicks": "all"})
    assert missed.status_code == 400 and "missedTicks" in missed.json()["message"]
    every = put(
        "flows/echo/schedules/s2", {"cronExpression": "@every 2s", "missedTicks": "skip", "enable": False}
    )
    assert every.status_code == 201 and every.json()["missedTicks"] == "skip"
    assert httpx.delete(f"{api}/flows/echo/schedules/s2", timeout=10).status_code == 204
    zone = put("flows/echo/schedules/s", {"cronExpression": "0 0 9 * * *", "timeZone": "Mars/Base"})
    assert zone.status_code == 400 and "unknown time zone 'Mars/Base'" in zone.json()["message"]
    not_object = put("flows/echo/schedules/s", {"cronExpression": "0 0 9 * * *", "payload": "[1]"})
    assert not_object.status_code == 400 and "payload must be a JSON object" in not_object.json()["message"]
    unknown = put("flows/nope/schedules/s", {"cronExpression": "0 0 9 * * *"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NotFound")
    assert "flow 'nope' does not exist" in unknown.json()["message"]
    assert httpx.get(f"{api}/flows/nope/schedules", timeout=10).status_code == 404
    assert httpx.get(f"{api}/flows/echo/schedules/none", timeout=10).status_code == 404
    assert httpx.delete(f"{api}/flows/echo/schedules/none", timeout=10).status_code == 404
    assert put("flows/echo/schedules/1bad", {"cronExpression": "0 0 9 * * *"}).status_code == 400
    mismatch = put("flows/echo/schedules/s", {"cronExpression": "0 0 9 * * *", "flowName": "other"})
    assert mismatch.status_code == 400 and "differs from the flow in the path" in mismatch.json()["message"]
    assert httpx.get(f"{api}/flows/echo/schedules", timeout=10).json() == {"schedules": [], "nextToken": None}


def test_fnf_style_routes_name_the_flow_in_the_body_or_query(url: str) -> None:
    api = f"{url}/api/v1/schedules"
    body = {
        "flowName": "echo",
        "cronExpression": "CRON_TZ=Asia/Shanghai 0 0 12 * * *",
        "payload": '{"from": "string"}',  # FnF sends Payload as a string holding JSON
        "enable": "True",  # and aliyun-python-sdk-fnf sends Enable=True, capitalised
        "description": "noon in Shanghai",
    }
    created = httpx.put(f"{api}/noon", json=body, timeout=10)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert set(schedule) == {
        "scheduleName", "scheduleId", "flowName", "description", "payload", "cronExpression",
        "timeZone", "enable", "createdTime", "lastModifiedTime", "nextFireTime", "missedTicks",
    }  # fmt: skip
    assert schedule["payload"] == {"from": "string"} and schedule["enable"] is True
    assert schedule["nextFireTime"].endswith("T04:00:00.000Z")  # 12:00 in Shanghai
    assert httpx.put(f"{api}/noon", json=body, timeout=10).status_code == 200
    same = httpx.get(f"{url}/api/v1/flows/echo/schedules/noon", timeout=10).json()
    assert same["scheduleId"] == schedule["scheduleId"]
    assert httpx.get(f"{api}/noon", params={"flowName": "echo"}, timeout=10).json() == same
    missing_flow = httpx.put(f"{api}/noon", json={"cronExpression": "0 0 12 * * *"}, timeout=10)
    assert missing_flow.status_code == 400 and "flowName is required" in missing_flow.json()["message"]
    assert httpx.get(f"{api}/noon", timeout=10).status_code == 400  # no flowName
    assert httpx.delete(f"{api}/noon", params={"flowName": "echo"}, timeout=10).status_code == 204
    assert httpx.get(f"{api}/noon", params={"flowName": "echo"}, timeout=10).status_code == 404


@pytest.mark.slow
def test_cli_create_update_get_list_delete(url: str) -> None:
    created = fnflow(
        "schedule", "create", "echo", "nightly", "--cron", "0 30 2 * * *", "--time-zone", "Europe/Berlin",
        "--payload", '{"report": "daily"}', "--description", "the nightly report", "-o", "json", url=url,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert '"nextFireTime": "' in created.stdout and '"timeZone": "Europe/Berlin"' in created.stdout
    again = fnflow("schedule", "create", "echo", "nightly", "--cron", "0 0 1 * * *", url=url)
    assert again.returncode == 2 and "already exists" in again.stderr
    off = fnflow("schedule", "update", "echo", "nightly", "--disable", url=url)
    assert off.returncode == 0, off.stderr
    shown = fields(off.stdout)
    assert shown["enabled"] == "no" and "next fire" not in shown
    assert (shown["cron"], shown["payload"]) == ("0 30 2 * * *", '{"report":"daily"}')  # kept
    on = fnflow("schedule", "update", "echo", "nightly", "--enable", "--cron", "@every 10m", url=url)
    assert on.returncode == 0, on.stderr
    shown = fields(on.stdout)
    assert (shown["enabled"], shown["cron"], shown["time zone"]) == ("yes", "@every 10m", "Europe/Berlin")
    assert shown["next fire"]
    listed = fnflow("schedule", "list", "echo", url=url)
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].split() == [
        "FLOW",
        "NAME",
        "CRON",
        "ENABLED",
        "NEXT",
        "FIRE",
        "PAYLOAD",
    ]
    assert "nightly" in listed.stdout
    everything = fnflow("schedule", "list", url=url)
    assert everything.returncode == 0
    assert any(line.split()[:2] == ["echo", "nightly"] for line in everything.stdout.splitlines())
    got = fnflow("schedule", "get", "echo", "nightly", url=url)
    assert got.returncode == 0 and "the nightly report" in got.stdout
    too_often = fnflow("schedule", "create", "echo", "x", "--cron", "@every 0s", url=url)
    assert too_often.returncode == 2 and "the minimum is 1 s" in too_often.stderr
    skipping = fnflow("schedule", "update", "echo", "nightly", "--missed", "skip", url=url)
    assert skipping.returncode == 0, skipping.stderr
    described = fnflow("schedule", "describe", "echo", "nightly", url=url)
    assert "missed ticks:  skip" in described.stdout and "next fire:" in described.stdout
    not_object = fnflow(
        "schedule", "create", "echo", "x", "--cron", "0 * * * * *", "--payload", "[]", url=url
    )
    assert not_object.returncode == 2 and "must be a JSON object" in not_object.stderr
    deleted = fnflow("schedule", "delete", "echo", "nightly", url=url)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted schedule nightly of flow echo"
    assert fnflow("schedule", "get", "echo", "nightly", url=url).returncode == 2


def test_deleting_a_flow_deletes_its_schedules(url: str) -> None:
    with Client(url) as client:
        client.put_flow("doomed", ECHO)
        client.put_schedule("doomed", "daily", "0 0 9 * * *")
        client.delete_flow("doomed")
        client.put_flow("doomed", ECHO)
        assert client.list_schedules("doomed").items == []


def test_writes_need_admin_and_reads_invoke(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on")
    admin, invoke = new_key("admin"), new_key("invoke")
    store = open_store(server.db)

    def put_keys(tx: Tx) -> None:
        tx.put_key(admin)
        tx.put_key(invoke)

    try:
        store.write_sync(put_keys)
    finally:
        store.close()
    server.start()
    try:
        with Client(server.url, api_key=f"{admin.id}:{admin.secret}") as a:
            a.put_flow("echo", ECHO)
            a.put_schedule("echo", "daily", "0 0 9 * * *")
        with Client(server.url, api_key=f"{invoke.id}:{invoke.secret}") as i:
            assert i.get_schedule("echo", "daily").name == "daily"
            assert [s.name for s in i.list_schedules("echo").items] == ["daily"]
            with pytest.raises(ForbiddenError):
                i.put_schedule("echo", "daily", "0 0 10 * * *")
            with pytest.raises(ForbiddenError):
                i.delete_schedule("echo", "daily")
    finally:
        server.stop()


@pytest.mark.slow
def test_several_processes_on_postgresql_fire_each_tick_once(tmp_path: Path) -> None:
    """Two servers share one PostgreSQL database and race for every tick; then one is killed (-9)
    right after it created a schedule. Every tick fires, none twice (the compare-and-set gives each
    tick to one process), and the survivor hears of the new schedule at once (NOTIFY)."""
    try:
        with throwaway_database() as db:
            shared, woken, created = _two_servers_and_a_crash(tmp_path, db)
    except NoPostgres as e:
        no_postgres("MULTI-PROCESS SCHEDULE TEST", e)
    ticks = [tick_of(e) for e in shared]
    assert ticks == [ticks[0] + timedelta(seconds=i) for i in range(len(ticks))], "a tick was lost or doubled"
    assert all(e.input == {"p": 1} for e in shared)
    assert created.next_fire_time is not None and tick_of(woken) == created.next_fire_time
    assert woken.started_time is not None
    assert woken.started_time - created.next_fire_time < timedelta(seconds=1.5)  # not at the 10 s re-scan


def _two_servers_and_a_crash(root: Path, db: str) -> tuple[list[Execution], Execution, Schedule]:
    a = ServerProcess(root / "a", db=db, env=FAST).start()
    b = ServerProcess(root / "b", db=db, env=FAST).start()
    try:
        with Client(a.url) as client:
            client.put_flow("echo", ECHO)
            client.put_schedule("echo", "shared", "* * * * * *", payload={"p": 1})
            at_least(client, "shared", 4)
            created = client.put_schedule("echo", "woken", "@every 3s")
        a.kill()
        with Client(b.url) as client:
            (woken, *_) = at_least(client, "woken", 1)
            at_least(client, "shared", len(runs(client, "shared")) + 2)
            client.put_schedule("echo", "shared", "* * * * * *", payload={"p": 1}, enabled=False)
            return runs(client, "shared"), woken, created
    finally:
        a.stop()
        b.stop()


def test_a_function_on_a_timer_is_called_asynchronously_each_tick_with_fc_s_event(
    fast: Client, tmp_path: Path
) -> None:
    code = tmp_path / "ticker"
    code.mkdir()
    (code / "index.py").write_text(
        "import json\n\ndef handler(event, context):\n    return json.loads(event)\n"
    )
    fast.deploy_function("ticker", code, service="jobs", handler="index.handler")
    url = fast.url
    made = fnflow("fn", "timer", "set", "ticker", "every-second", "--cron", "@every 1s", "--payload", "hi",
                  "-s", "jobs", "-o", "json", url=url)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["nextFireTime"]

    def two_succeeded() -> list[Any] | None:
        done = [c for c in fast.list_calls("ticker", "jobs").items if c.status == "Succeeded"]
        return done if len(done) >= 2 else None

    calls = eventually(two_succeeded)
    event = json.loads(calls[0].result.body)  # type: ignore[union-attr]
    assert (event["triggerName"], event["payload"]) == ("every-second", "hi") and event["triggerTime"]
    listed = fnflow("fn", "timer", "list", "ticker", "-s", "jobs", url=url)
    assert listed.returncode == 0 and "every-second" in listed.stdout and "@every 1s" in listed.stdout

    bad = fnflow("fn", "timer", "set", "ticker", "t2", "--cron", "* * *", "-s", "jobs", url=url)
    assert bad.returncode == 2 and "cron" in bad.stderr.lower(), bad.stderr
    missing = fnflow("fn", "timer", "set", "ghost", "t", "--cron", "@every 1s", "-s", "jobs", url=url)
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr

    assert fnflow("fn", "timer", "delete", "ticker", "every-second", "-s", "jobs", url=url).returncode == 0
    time.sleep(1.5)  # a tick already claimed when it was deleted may still run
    before = len(fast.list_calls("ticker", "jobs").items)
    time.sleep(2.5)
    assert len(fast.list_calls("ticker", "jobs").items) == before, "no tick after the delete"
    assert fast.list_triggers("ticker", "jobs") == []
