"""resourceArn parsing: each accepted form, and a precise error for everything else."""

from __future__ import annotations

import pytest

from fnflow.fdl import (
    FlowTarget,
    FunctionTarget,
    QueueTarget,
    ResourceTarget,
    TopicTarget,
    parse_resource_arn,
)


@pytest.mark.parametrize(
    ("arn", "target"),
    [
        (
            "acs:fc:cn-hangzhou:123456789:services/fnf-demo/functions/StartJob",
            FunctionTarget("cn-hangzhou", "123456789", "fnf-demo", None, "StartJob"),
        ),
        (
            "acs:fc:::services/fnf-demo/functions/timer-gen",
            FunctionTarget("", "", "fnf-demo", None, "timer-gen"),
        ),
        (
            "acs:fc:::services/booking.prod/functions/reserve",
            FunctionTarget("", "", "booking", "prod", "reserve"),
        ),
        ("acs:fc:::services/booking.3/functions/reserve", FunctionTarget("", "", "booking", "3", "reserve")),
        ("acs:fc:::services/s.LATEST/functions/_f", FunctionTarget("", "", "s", "LATEST", "_f")),
        ("acs:fc:cn-shanghai::services/s/functions/f", FunctionTarget("cn-shanghai", "", "s", None, "f")),
        ("acs:mns:::/queues/orders/messages", QueueTarget("orders")),
        ("acs:mns:::/topics/approvals/messages", TopicTarget("approvals")),
        ("acs:fnf:::flow/child_flow", FlowTarget("child_flow")),
        ("acs:fc:::services/" + "s" * 128 + "/functions/f", FunctionTarget("", "", "s" * 128, None, "f")),
    ],
)
def test_accepted_forms(arn: str, target: ResourceTarget) -> None:
    assert parse_resource_arn(arn) == target


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("", "unsupported resourceArn ''; expected one of: acs:fc:{region}:{account}:services/"),
        ("http://example.com/f", "unsupported resourceArn 'http://example.com/f'"),
        ("acs:fc:::services/s/function/f", "unsupported resourceArn"),
        ("acs:mns:::/queue/q/messages", "unsupported resourceArn"),
        ("acs:mns:::/queues/q", "unsupported resourceArn"),
        ("acs:fnf:::flows/x", "unsupported resourceArn"),
        (" acs:fnf:::flow/x", "unsupported resourceArn"),
        ("acs:fc:::services/s/functions/f/extra", "unsupported resourceArn"),
        ("acs:fc:::services/a b/functions/f", "service 'a b' is not valid; it must be 1 to 128 letters"),
        ("acs:fc:::services/1svc/functions/f", "service '1svc' is not valid"),
        ("acs:fc:::services/s/functions/-f", "function '-f' is not valid"),
        ("acs:fc:::services/s/functions/", "function '' is not valid"),
        (
            "acs:fc:::services/s./functions/f",
            "qualifier '' is not valid; it must be a version number or an alias",
        ),
        ("acs:fc:::services/" + "s" * 129 + "/functions/f", "service '" + "s" * 129 + "' is not valid"),
        (
            "acs:fc:{region}::services/s/functions/f",
            "region '{region}' is not valid (replace the placeholder)",
        ),
        (
            "acs:fc::{accountID}:services/s/functions/f",
            "account '{accountID}' is not valid (replace the placeholder)",
        ),
        ("acs:mns:::/queues/my queue/messages", "queue 'my queue' is not valid"),
        ("acs:mns:::/topics/t.x/messages", "topic 't.x' is not valid"),
        ("acs:fnf:::flow/9lives", "flow '9lives' is not valid"),
    ],
)
def test_rejected_forms(arn: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_resource_arn(arn)
    assert message in str(raised.value)


def test_unsupported_lists_every_accepted_form() -> None:
    with pytest.raises(ValueError) as raised:
        parse_resource_arn("acs:oss:::bucket/key")
    assert str(raised.value) == (
        "unsupported resourceArn 'acs:oss:::bucket/key'; expected one of: "
        "acs:fc:{region}:{account}:services/{service}[.{qualifier}]/functions/{function} "
        "(region and account may be empty); acs:mns:::/queues/{queue}/messages; "
        "acs:mns:::/topics/{topic}/messages; acs:fnf:::flow/{flow}"
    )
