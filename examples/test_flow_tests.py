"""The example flows' test files (``*.test.yaml``), run as a user runs them: ``fnflow test examples``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_every_example_flow_test_passes_with_full_coverage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fnflow", "test", str(HERE), "--output", "json", "--fail-under", "100"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = json.loads(done.stdout)
    failures = [c for c in report["cases"] if c["outcome"] != "passed"]
    assert done.returncode == 0, (failures, report["errors"], done.stderr)
    assert report["failed"] == 0 and not report["errors"]
    assert report["passed"] >= 30
    tested = {Path(f["flow"]).relative_to(HERE).as_posix() for f in report["coverage"]["flows"]}
    plain_flows = {  # every example flow in plain FDL (the ROS templates' flows use !Ref and !Sub)
        p.relative_to(HERE).as_posix()
        for p in HERE.glob("*/*.yaml")
        if p.read_text().lstrip().startswith(("version:", "#")) and "type: flow" in p.read_text()
    }
    assert plain_flows <= tested, plain_flows - tested
