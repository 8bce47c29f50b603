"""The test file format (``*.test.yaml``): pydantic models, and the JSON Schema made from them.

    flow: flow.yaml                 # the flow under test (relative to this file)
    flowName: poll-job              # the name it runs under (default: the file's stem)
    flows: {payment: payment.yaml}  # flows its task steps start as children (run for real unless mocked)
    mocks: {...}                    # mocks every case gets (a case's own mocks win)
    cases:
      - name: the job succeeds on the second poll
        input: {delay: 3}
        mocks:
          StartJob: {result: {job_id: j1}}                       # by step name
          GetJobStatus:                                          # a sequence: one per attempt
            - result: {job_status: running}
            - result: {job_status: success}
          "acs:fc:::services/s/functions/f": {error: X}         # or by resourceArn
        expect:
          status: Succeeded
          steps: [StartJob, Init, Wait10s, GetJobStatus, CheckJobComplete, Wait10s, ...]
          duration: 20

``schema()`` is the JSON Schema of this format; the package ships it as ``test-file.schema.json``
(a test keeps the two the same).
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fnflow.fdl.timestamps import parse_timestamp

STATUSES = ("Succeeded", "Failed", "TimedOut", "Stopped")
#: virtual seconds a case may run before it is stopped as never-ending (a week)
DEFAULT_TIME_LIMIT = 7 * 24 * 3600.0
SCHEMA_FILE = "test-file.schema.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Mock(_Strict):
    """What one attempt of a mocked task answers. With none of result, error and hang: ``{}``."""

    result: Any = Field(None, description="The task's output ($local); for a child flow, its output.")
    error: str | None = Field(None, min_length=1, description="Fail the attempt with this error name.")
    cause: str = Field("", description="The cause that goes with error.")
    delay: float = Field(0, ge=0, description="Virtual seconds before the answer (or the callback report).")
    hang: bool = Field(
        False, description="Never answer: the step waits until its timeoutSeconds (or the flow's) ends it."
    )
    status: Literal["Succeeded", "Failed", "Stopped", "TimedOut"] | None = Field(
        None, description="For a child flow: how the child ended (default Succeeded, or Failed with error)."
    )
    times: int = Field(1, ge=1, description="In a sequence: how many attempts in a row answer this.")

    @model_validator(mode="after")
    def _one_outcome(self) -> Mock:
        if self.result is not None and self.error is not None:
            raise ValueError("a mock has either result or error, not both")
        if self.hang and (self.result is not None or self.error is not None):
            raise ValueError("a mock with hang: true never answers: it takes no result or error")
        if self.status == "Succeeded" and self.error is not None:
            raise ValueError("status Succeeded takes a result, not an error")
        return self


class Expect(_Strict):
    """What the execution must have done; only what is given is checked."""

    status: Literal["Succeeded", "Failed", "TimedOut", "Stopped"] | None = None
    output: dict[str, Any] | None = Field(None, description="The output, exactly.")
    outputContains: dict[str, Any] | None = Field(
        None, description="A subset of the output: these keys with these values (nested mappings too)."
    )
    error: str | None = Field(None, description="The execution's error name.")
    cause: str | None = Field(None, description="Text the execution's cause contains.")
    steps: list[str] | None = Field(None, description="The steps entered, in order (every one).")
    attempts: dict[str, int] | None = Field(None, description="How many attempts each named task step made.")
    duration: float | None = Field(None, ge=0, description="Virtual seconds from start to end.")


def _sequences(value: Any) -> Any:
    """A single mock stands for a sequence of one."""
    if not isinstance(value, dict):
        return value
    return {k: [v] if isinstance(v, dict) else v for k, v in value.items()}


Mocks = dict[str, list[Mock]]


class Case(_Strict):
    name: str = Field(..., min_length=1)
    flow: str | None = Field(None, description="Another flow file than the test file's, for this case.")
    input: dict[str, Any] = Field(default_factory=dict)
    executionName: str | None = Field(None, min_length=1)
    startTime: str | None = Field(None, description="RFC 3339; default 2024-01-01T00:00:00Z.")
    mocks: Mocks = Field(default_factory=dict, description="By step name or resourceArn.")
    expect: Expect = Field(default_factory=Expect)
    timeLimit: float = Field(
        DEFAULT_TIME_LIMIT,
        gt=0,
        description="Virtual seconds after which the case is stopped as never-ending.",
    )

    @field_validator("mocks", mode="before")
    @classmethod
    def _mock_lists(cls, value: Any) -> Any:
        return _sequences(value)

    @field_validator("startTime")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timestamp(value)  # ValueError: not RFC 3339
        return value

    def start(self) -> datetime:
        return parse_timestamp(self.startTime or "2024-01-01T00:00:00Z")


class TestFile(_Strict):
    __test__ = False  # not a pytest class

    flow: str = Field(..., min_length=1, description="The flow file under test, relative to this file.")
    flowName: str | None = Field(None, description="The flow's name (default: the flow file's stem).")
    flows: dict[str, str] = Field(
        default_factory=dict, description="Child flows by name: files run for real when not mocked."
    )
    mocks: Mocks = Field(default_factory=dict, description="Mocks every case starts with.")
    cases: list[Case] = Field(..., min_length=1)

    @field_validator("mocks", mode="before")
    @classmethod
    def _mock_lists(cls, value: Any) -> Any:
        return _sequences(value)


def schema() -> dict[str, Any]:
    """The JSON Schema of a test file."""
    document = TestFile.model_json_schema()
    one_or_more = {"anyOf": [{"$ref": "#/$defs/Mock"}, {"type": "array", "items": {"$ref": "#/$defs/Mock"}}]}
    document["properties"]["mocks"]["additionalProperties"] = one_or_more
    document["$defs"]["Case"]["properties"]["mocks"]["additionalProperties"] = one_or_more
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "fnflow test file (*.test.yaml)"
    return document


def shipped_schema() -> str:
    """The schema file the package ships."""
    return resources.files("fnflow.flowtest").joinpath(SCHEMA_FILE).read_text()


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
