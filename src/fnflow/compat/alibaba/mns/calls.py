"""What an MNS action is given (``Call``) and gives back (``Reply``), tables of actions, and the
readers of the values a call carries in its query, headers and XML: each problem an
``InvalidArgument`` naming the value as MNS does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fnflow.compat.alibaba.mns import documents
from fnflow.errors import InvalidArgument

if TYPE_CHECKING:
    from fnflow.app import Fnflow


@dataclass(frozen=True)
class Call:
    app: Fnflow
    names: tuple[str, ...]  # the queue, or the topic (and the subscription), of the path
    query: Mapping[str, str]  # by lower-case name, as MNS reads them
    headers: Mapping[str, str]  # by lower-case name
    body: bytes
    base: str  # the URL the client reached MNS's API at (QueueURL, Location …)
    gone: Callable[[], Awaitable[bool]]  # whether the client went away (long polls stop then)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    location: str | None = None


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Action:
    scope: str
    run: Handler


class Actions(dict[str, Action]):
    """A table of actions by MNS's name, filled by ``register``."""

    def register(self, name: str, scope: str) -> Callable[[Handler], Handler]:
        def add(run: Handler) -> Handler:
            self[name] = Action(scope, run)
            return run

        return add


def integer(name: str, text: str | None, low: int, high: int) -> int | None:
    """``text`` as an integer from ``low`` to ``high``; None if there is none."""
    if text is None or text == "":
        return None
    try:
        number = int(text)
    except ValueError:
        raise InvalidArgument(f"The value of {name} must be an integer, not {text!r}.") from None
    if not low <= number <= high:
        raise InvalidArgument(f"The value of {name} should between {low} and {high}, not {number}.")
    return number


def boolean(name: str, text: str | None) -> bool | None:
    if text is None or text == "":
        return None
    if text.lower() not in ("true", "false"):
        raise InvalidArgument(f"The value of {name} must be True or False, not {text!r}.")
    return text.lower() == "true"


#: How many names a list answers at most, and unless asked for fewer (MNS's x-mns-ret-number).
LIST_LIMIT = 1000


@dataclass(frozen=True)
class Listing:
    """What a list asks for, in its ``x-mns-*`` headers."""

    prefix: str
    limit: int
    marker: str | None
    with_meta: bool

    @classmethod
    def of(cls, call: Call) -> Listing:
        headers = call.headers
        return cls(
            prefix=headers.get("x-mns-prefix", ""),
            limit=integer("x-mns-ret-number", headers.get("x-mns-ret-number"), 1, LIST_LIMIT) or LIST_LIMIT,
            marker=headers.get("x-mns-marker") or None,
            with_meta=boolean("x-mns-with-meta", headers.get("x-mns-with-meta")) or False,
        )


def page(root: str, item: str, items: list[dict[str, str]], next_token: str | None) -> Reply:
    """A list's answer: an ``<item>`` per entry, then ``NextMarker`` when there is more."""
    after = {"NextMarker": next_token} if next_token else {}
    return Reply(200, documents.document_of_list(root, item, items, after))


def logging_disabled(values: Mapping[str, str]) -> None:
    """fnflow writes no logs to OSS: ``LoggingEnabled`` may only be False."""
    if boolean("LoggingEnabled", values.get("LoggingEnabled")):
        raise InvalidArgument("LoggingEnabled is not supported by fnflow: it must be False or left out.")
