"""The naming rule FnF applies to flows, executions and schedules."""

from __future__ import annotations

import re

from fnflow.errors import InvalidArgument

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")


def check_name(what: str, name: str) -> None:
    if not NAME.match(name):
        raise InvalidArgument(
            f"{what} name {name!r} must be 1-128 characters of [A-Za-z0-9_-], not starting with a digit or -"
        )
