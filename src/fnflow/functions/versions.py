"""Service versions and aliases, as Function Compute 2.0 has them.

A service version is an immutable snapshot of a service's functions (code and configuration),
numbered from 1; ``LATEST`` is what is deployed now and stays editable. An alias names a
version and may send a share of the calls (``additionalVersionWeight``, 0-1) to one more
version: a canary. A qualifier — ``LATEST``, a version number or an alias — follows the service
wherever a function is named (``services/{service}.{qualifier}/functions/{function}``), and
``Qualifiers.resolve`` turns it into the version that runs one call.

A publish is one transaction: it reads the service's functions, compares them with the last
version (nothing changed → refused, as FC does) and writes the snapshot; a crash leaves the whole
version or none.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime

from fnflow.errors import Conflict, InvalidArgument, NotFound
from fnflow.store import AliasRecord, FunctionRecord, ServiceVersionRecord, Store, Tx

LATEST = "LATEST"
VERSION_HEADER = "X-Fc-Invocation-Service-Version"  # in answers: the version that ran the call
ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
#: options that are no part of what a version is (warm instances are set per alias, not published)
UNVERSIONED_OPTIONS = ("minInstances",)
MAX_VERSION = 2**31 - 1
MAX_RESERVED = 64  # reserved instances per function of an alias (the pool also holds maxInstances)


class NothingChanged(Conflict):
    """A publish with nothing changed since the last version (FC refuses it too)."""

    code = "NothingChanged"


def snapshot_digest(records: list[FunctionRecord]) -> str:
    """What a version is: every function's code and configuration (not its times)."""
    doc = [
        {
            "name": r.name,
            "runtime": r.runtime,
            "handler": r.handler,
            "code": r.code_checksum,
            "timeout": r.timeout,
            "memory": r.memory_mb,
            "maxInstances": r.max_instances,
            "environment": r.environment,
            "description": r.description,
            "options": {k: v for k, v in r.options.items() if k not in UNVERSIONED_OPTIONS},
        }
        for r in sorted(records, key=lambda r: r.name)
    ]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def version_number(text: str | int) -> int:
    """A version id given as text or a number (InvalidArgument if it is none)."""
    if isinstance(text, int):
        number = text
    elif text.isdigit():
        number = int(text)
    else:
        raise InvalidArgument(f"version {text!r} must be a version number (1, 2, …)")
    if not 1 <= number <= MAX_VERSION:
        raise InvalidArgument(f"version {number} must be a version number (1, 2, …)")
    return number


def check_alias_name(name: str) -> None:
    if not ALIAS.match(name) or name == LATEST:
        raise InvalidArgument(
            f"alias name {name!r} must be 1-128 characters of [A-Za-z0-9_-], starting with a letter"
            " or '_' (and not LATEST)"
        )


def check_weights(weights: dict[str, float] | None) -> tuple[int | None, float]:
    """The additional version and its weight of ``additionalVersionWeight`` ({"version": weight})."""
    if not weights:
        return None, 0.0
    if len(weights) > 1:
        raise InvalidArgument("additionalVersionWeight: at most one additional version may have a weight")
    ((version, weight),) = weights.items()
    try:
        number = version_number(version)
    except InvalidArgument as e:
        raise InvalidArgument(f"additionalVersionWeight: {e.message}") from None
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise InvalidArgument(
            f"additionalVersionWeight: the weight of version {version} must be between 0 and 1"
        )
    return number, float(weight)


class Qualifiers:
    """Turns a qualifier into the version that runs one call."""

    def __init__(self, store: Store, rng: Callable[[], float] = random.random) -> None:
        self.store = store
        self.rng = rng

    async def resolve(self, service: str, qualifier: str | None) -> str:
        """``LATEST`` or a version number (as text); NotFound for a version or alias the service
        does not have. An alias with an additional version picks it with its weight."""
        if not qualifier or qualifier == LATEST:
            return LATEST
        if qualifier.isdigit():
            number = version_number(qualifier)
            found = await self.store.read(lambda tx: tx.get_service_version(service, number))
            if found is None:
                raise NotFound(f"service {service!r} has no version {qualifier}")
            return str(number)
        alias = await self.store.read(lambda tx: tx.get_alias(service, qualifier))
        if alias is None:
            raise NotFound(f"service {service!r} has no version or alias {qualifier!r}")
        if alias.additional_version_id is not None and self.rng() < alias.additional_weight:
            return str(alias.additional_version_id)
        return str(alias.version_id)


class VersionService:
    """Publish, list and delete service versions; set, list and delete aliases."""

    def __init__(self, store: Store, changed: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self._changed = changed  # an alias changed: its reserved instances may need starting

    async def publish(self, service: str, description: str = "") -> ServiceVersionRecord:
        """Snapshot the service's functions as its next version (NotFound if it has none;
        NothingChanged if they are as the last version has them)."""
        if len(description) > 256:
            raise InvalidArgument("description may have at most 256 characters")
        now = datetime.now(UTC)

        def publish(tx: Tx) -> ServiceVersionRecord:
            records = tx.list_functions(service)
            if not records:
                raise NotFound(f"service {service!r} has no functions to publish")
            digest = snapshot_digest(records)
            last = tx.last_service_version(service)
            if last is not None and last.digest == digest:
                raise NothingChanged(
                    f"nothing changed in service {service!r} since version {last.version_id}:"
                    " deploy a change first"
                )
            return tx.publish_service_version(service, description, digest, now)

        return await self.store.write(publish)

    async def versions(self, service: str) -> list[ServiceVersionRecord]:
        return await self.store.read(lambda tx: tx.list_service_versions(service))

    async def get(self, service: str, version: str | int) -> ServiceVersionRecord:
        number = version_number(version)
        found = await self.store.read(lambda tx: tx.get_service_version(service, number))
        if found is None:
            raise NotFound(f"service {service!r} has no version {number}")
        return found

    async def delete(self, service: str, version: str | int) -> None:
        """Delete a version; refused (Conflict) while an alias sends calls to it."""
        number = version_number(version)

        def drop(tx: Tx) -> None:
            users = tx.aliases_of_version(service, number)
            if users:
                raise Conflict(
                    f"version {number} of service {service!r} is used by alias(es) {', '.join(users)}:"
                    " point them elsewhere first"
                )
            if not tx.delete_service_version(service, number):
                raise NotFound(f"service {service!r} has no version {number}")

        await self.store.write(drop)

    async def put_alias(
        self,
        service: str,
        name: str,
        version: str | int,
        weights: dict[str, float] | None = None,
        description: str = "",
        reserved: int = 0,
    ) -> tuple[AliasRecord, bool]:
        """Create or change an alias (returns it and whether it was created). ``weights``
        (``additionalVersionWeight``) gives one more version a share of the calls, 0-1;
        ``reserved``: instances of each function of its version every process keeps started."""
        check_alias_name(name)
        if not 0 <= reserved <= MAX_RESERVED:
            raise InvalidArgument(f"reservedInstances must be between 0 and {MAX_RESERVED}, got {reserved}")
        number = version_number(version)
        extra, weight = check_weights(weights)
        if extra == number:
            raise InvalidArgument(
                "additionalVersionWeight: the additional version is the alias's own version"
            )
        now = datetime.now(UTC)

        def put(tx: Tx) -> tuple[AliasRecord, bool]:
            for wanted in (number, extra):
                if wanted is not None and tx.get_service_version(service, wanted) is None:
                    raise NotFound(f"service {service!r} has no version {wanted}")
            return tx.put_alias(service, name, number, extra, weight, description, now, reserved)

        done = await self.store.write(put)
        self._changed()
        return done

    async def get_alias(self, service: str, name: str) -> AliasRecord:
        found = await self.store.read(lambda tx: tx.get_alias(service, name))
        if found is None:
            raise NotFound(f"service {service!r} has no alias {name!r}")
        return found

    async def list_aliases(self, service: str) -> list[AliasRecord]:
        return await self.store.read(lambda tx: tx.list_aliases(service))

    async def reserved(self) -> list[AliasRecord]:
        """The aliases with reserved instances, of every service."""
        return await self.store.read(lambda tx: tx.reserved_aliases())

    async def delete_alias(self, service: str, name: str) -> None:
        if not await self.store.write(lambda tx: tx.delete_alias(service, name)):
            raise NotFound(f"service {service!r} has no alias {name!r}")
        self._changed()
