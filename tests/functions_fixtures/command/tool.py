"""A command-runtime function for the tests: what it does is named by its first argument."""

import json
import os
import subprocess
import sys
import time

mode = sys.argv[1]
if mode == "upper":
    sys.stdout.write(sys.stdin.read().upper())
elif mode == "env":
    names = {k: v for k, v in os.environ.items() if k.startswith("Http_") or k in ("GREETING", "FNFLOW_DB")}
    json.dump({"env": names, "cwd": os.getcwd()}, sys.stdout)
elif mode == "policy":  # read stdin first: the server sets the policy before it writes the body
    sys.stdin.read()
    child = subprocess.check_output([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"])
    json.dump({"command": os.sched_getscheduler(0), "child": int(child)}, sys.stdout)
elif mode == "fail":
    print("partial output", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    sys.exit(3)
elif mode == "stderr":
    print("to stdout")
    print("to stderr", file=sys.stderr)
elif mode == "hang":
    child = subprocess.Popen(["sleep", "60"])
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(child.pid))
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])  # whole once it exists: the tests wait for it
    time.sleep(60)
elif mode == "record":
    started = time.time()
    time.sleep(float(sys.argv[3]))
    with open(os.path.join(sys.argv[2], f"{os.getpid()}.json"), "w") as f:
        json.dump({"start": started, "end": time.time()}, f)
