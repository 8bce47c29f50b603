"""Handlers for the function pool tests; each is named by what it does."""

import json
import logging
import os
import signal
import subprocess
import sys
import time


class ErrorNeedsRetry(Exception):
    pass


def echo(event, context):
    return event


def returns(event, context):
    kind = event.decode()
    return {
        "str": "héllo",
        "dict": {"a": 1, "b": [True, None]},
        "list": [1, 2.5, "x"],
        "int": 42,
        "bool": False,
        "none": None,
        "bytes": b"\x00\xffraw",
        "set": {1, 2},
        "nan": float("nan"),
    }[kind]


def context_fields(event, context):
    return {
        "request_id": context.request_id,
        "function": [
            context.function.name,
            context.function.handler,
            context.function.memory,
            context.function.timeout,
        ],
        "service": [context.service.name, context.service.qualifier, context.service.version_id],
        "region": context.region,
        "account_id": context.account_id,
        "credentials": [
            context.credentials.access_key_id,
            context.credentials.access_key_secret,
            context.credentials.security_token,
        ],
        "endpoint": context.endpoint,
        "env": {
            k: os.environ.get(k)
            for k in ("FNFLOW_URL", "FC_FUNCTION_NAME", "FC_SERVICE_NAME", "GREETING", "FNFLOW_DB")
        },
        "cwd": os.getcwd(),
    }


def fail(event, context):
    raise ErrorNeedsRetry("the backend said try later")


def exit_(event, context):
    exit(3)


def os_exit(event, context):
    os._exit(7)


def segfault(event, context):
    os.kill(os.getpid(), signal.SIGSEGV)


def sleep(event, context):
    time.sleep(float(event or b"3600"))
    return "woke"


def spawn_child(event, context):
    """Leaves a grandchild running, to check that stopping a worker reaches it too."""
    child = subprocess.Popen(["sleep", "600"])
    return {"worker": os.getpid(), "child": child.pid}


def policy(event, context):
    """The scheduling policy of the worker and of a process it starts."""
    child = subprocess.check_output([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"])
    return {"worker": os.sched_getscheduler(0), "child": int(child)}


def fnflow_modules(event, context):
    """The fnflow modules and HTTP libraries the worker imported before calling its handler."""
    return sorted(m for m in sys.modules if m.split(".")[0] in ("fnflow", "httpx", "httpcore"))


def spawn_and_hang(event, context):
    """Starts a grandchild, says its pid in the file named by the event, then never returns."""
    child = subprocess.Popen(["sleep", "600"])
    with open(event.decode(), "w") as f:
        f.write(str(child.pid))
    time.sleep(3600)


def chatty(event, context):
    print("line from print")
    print("line to stderr", file=sys.stderr)
    logging.getLogger().info("line from logging")
    logging.getLogger("app").warning("warned")
    print("no newline at the end", end="")
    return "done"


def loud(event, context):
    """Writes its event on both streams in every way a handler can, the last just before it returns."""
    text = event.decode()
    print(f"print {text}")
    os.write(2, f"fd {text}\n".encode())
    subprocess.run(["echo", f"child {text}"], check=True)
    sys.stderr.write("x" * 10_000 + f" {text}\n")  # a long line, in several writes
    os.write(1, f"last {text}\n".encode())
    return "ok"


def big(event, context):
    return event + event[:1]


def allocate(event, context):
    data = bytearray(int(event) * 1024 * 1024)
    return len(data)


def record(event, context):
    """Writes start and end times into a directory, for the concurrency tests."""
    args = json.loads(event)
    start = time.time()
    time.sleep(args.get("sleep", 0.3))
    with open(os.path.join(args["dir"], f"{context.request_id}.json"), "w") as f:
        json.dump({"start": start, "end": time.time(), "pid": os.getpid()}, f)
    return context.request_id


not_callable = 42


def read_secret(event, context):
    """The secret named by the event, as a file in $OPENFAAS_SECRETS_PATH, and $DB_PASSWORD."""
    folder = os.environ["OPENFAAS_SECRETS_PATH"]
    with open(os.path.join(folder, event.decode())) as f:
        value = f.read()
    return {
        "value": value,
        "env": os.environ.get("DB_PASSWORD"),
        "same_path": os.environ.get("secret_mount_path") == folder,  # noqa: SIM112 - OpenFaaS' SDKs' name
        "files": sorted(os.listdir(folder)),
    }
