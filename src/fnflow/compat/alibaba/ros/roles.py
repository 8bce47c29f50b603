"""RAM policies mapped onto fnflow's key scopes (the credentials a function's instances get).

A scope allows a set of FnF actions: ``report-task`` the two reports, ``invoke`` those and the
starts, stops and reads, ``admin`` every action. A role gets the widest scope whose actions its
policies all allow (``Allow`` statements, less ``Deny`` ones), so credentials never do more than
the role allows; what the role allows beyond that scope is refused, and the plan says so. The
narrowest scope, ``report-task``, is the floor: a role that allows no FnF action still gets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

REPORT = ("ReportTaskSucceeded", "ReportTaskFailed")
INVOKE = (
    *REPORT,
    "StartExecution",
    "StartSyncExecution",
    "StopExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "DescribeFlow",
    "ListFlows",
    "DescribeSchedule",
    "ListSchedules",
)
ADMIN = (
    *INVOKE,
    "CreateFlow",
    "UpdateFlow",
    "DeleteFlow",
    "CreateSchedule",
    "UpdateSchedule",
    "DeleteSchedule",
)
#: from the widest to the narrowest
SCOPES = (("admin", ADMIN), ("invoke", INVOKE), ("report-task", REPORT))
FLOOR = "report-task"

#: Alibaba's managed policies, as the FnF actions they allow (others allow none of them)
MANAGED = {
    "aliyunfnffullaccess": ("fnf:*",),
    "aliyunfnfreadonlyaccess": ("fnf:Describe*", "fnf:List*", "fnf:Get*"),
}


@dataclass(frozen=True)
class RoleScope:
    scope: str
    refused: tuple[str, ...] = ()  # FnF actions the role allows that the scope does not


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _statements(document: Any) -> Iterable[tuple[bool, list[str]]]:
    """(allow, action patterns) of each statement of a policy document."""
    if not isinstance(document, dict):
        return
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, dict):
            effect = str(statement.get("Effect", "Allow")).lower() == "allow"
            yield effect, _strings(statement.get("Action"))


def _matches(patterns: list[str], action: str) -> bool:
    qualified = f"fnf:{action}".lower()
    return any(fnmatchcase(qualified, p.lower()) for p in patterns)


def scope_of(policies: Iterable[Any]) -> RoleScope:
    """The scope of a role with these policies: managed policy names or policy documents."""
    allowed: list[str] = []
    denied: list[str] = []
    for policy in policies:
        if isinstance(policy, str):
            allowed.extend(MANAGED.get(policy.lower(), ()))
            continue
        for allow, actions in _statements(policy):
            (allowed if allow else denied).extend(actions)
    permitted = {a for a in ADMIN if _matches(allowed, a) and not _matches(denied, a)}
    for scope, granted in SCOPES:
        if set(granted) <= permitted:
            return RoleScope(scope, tuple(sorted(permitted - set(granted))))
    return RoleScope(FLOOR, tuple(sorted(permitted)))
