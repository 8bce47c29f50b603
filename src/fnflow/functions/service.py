"""Deployed functions: validate and store them, and invoke them through the pool.

Code lives in the database (so every node can run it) and is unpacked once per checksum
under ``<data_dir>/code/``; command and http functions may have none. Function records are
cached for a moment on the invoke path; a deploy or delete on this node drops the cached
entry at once. The secrets a function names must exist when it is deployed; their values are
written to its secrets folder (``secretfiles``) when its spec is built, and again when one of
them changes (seen, like the record, within the cache's few seconds). A function with a role
has a key of its own (made with it, changed with its role, deleted with it), whose temporary
credentials its instances get (``fnflow.functions.fc``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from fnflow.errors import FnflowError, InvalidArgument, NotFound
from fnflow.functions import _responses, codepkg, fc, folders, requirements
from fnflow.functions.config import FC_RUNTIME, PYTHON_RUNTIMES, FunctionConfig, config_of
from fnflow.functions.dependencies import OPTION, Dependencies, Progress, environment_of
from fnflow.functions.pool import FunctionPool
from fnflow.functions.secretfiles import SecretFiles
from fnflow.functions.spec import FunctionSpec, HttpRequest, InvocationContext, InvocationResult
from fnflow.functions.versions import LATEST, Qualifiers
from fnflow.services.keys import new_key
from fnflow.store import EnvironmentRecord, FunctionRecord, Store, Tx

SECRETS_PATH_VARIABLES = ("OPENFAAS_SECRETS_PATH", "secret_mount_path")  # the latter: OpenFaaS' SDKs
Versions = tuple[tuple[str, float], ...]  # (secret, last change) of the secrets a function names
STORED_GRACE = 60.0  # seconds an environment or layer the store keeps outlives the last deploy naming it


class SecretSource(Protocol):
    async def values(self, service: str, names: Sequence[str]) -> dict[str, bytes]:
        """The secrets' values; an FnflowError naming the secret if one cannot be had."""
        ...


@dataclass(frozen=True)
class Deployment:
    """A deploy checked and ready to install and store (``FunctionService.prepare``)."""

    config: FunctionConfig
    code: bytes | None
    checksum: str  # of the code ("" when it keeps the current code)
    layers: dict[str, bytes] = field(default_factory=dict)  # zips of layers it brings, by checksum

    def check(self, tx: Tx) -> FunctionRecord | None:
        """What must hold when it is stored (checked first, and again as it is stored): the secrets it
        names exist, and a Python function has code. The function as it is now (None if new)."""
        config = self.config
        named = config.named_secrets
        missing = sorted(set(named) - {n for n, _ in tx.secret_versions(config.service, named)})
        if missing:
            raise InvalidArgument(
                f"function {config.name} names secret(s) that do not exist in its namespace:"
                f" {', '.join(missing)} (create them with `fnflow secret create NAME`)"
            )
        current = tx.get_function(config.service, config.name)
        if self.code is None:
            has_code = current is not None and bool(current.code_checksum)
            if config.needs_code and not has_code:
                what = "does not exist yet" if current is None else "has no code"
                raise InvalidArgument(
                    f"function {config.service}/{config.name} {what}: a {config.runtime} function needs code"
                )
        return current


@dataclass(frozen=True)
class Pruned:
    """What a prune removed: folders on this machine, and rows of the store."""

    environments: list[str]
    layers: list[str]
    code: list[str]
    stored_environments: list[str]
    stored_layers: list[str]


@dataclass(frozen=True)
class Caller:
    """How code running in a function reaches fnflow back (FC's context.credentials and endpoint)."""

    endpoint: str = ""
    access_key_id: str = ""
    access_key_secret: str = ""
    region: str = "cn-hangzhou"
    account_id: str = ""


class FunctionService:
    def __init__(
        self,
        store: Store,
        pool: FunctionPool,
        data_dir: Path,
        caller: Caller | None = None,
        cache_ttl: float = 2.0,
        secrets: SecretSource | None = None,
    ) -> None:
        self.store = store
        self.pool = pool
        self.code_root = data_dir / "code"
        self.caller = caller or Caller()
        self.secrets = secrets
        self.secret_files = SecretFiles(data_dir)
        self.dependencies = Dependencies(store, data_dir)
        self._ttl = cache_ttl
        self._records: dict[tuple[str, str, str], tuple[float, FunctionRecord, Versions]] = {}
        self._specs: dict[tuple[str, str, str, str, object, Versions], FunctionSpec] = {}
        self.qualifiers = Qualifiers(store)
        self.changed: Callable[[], None] = _nothing  # a function's warm instances may need a change
        self.served: Callable[[str, str, str], None] = _served  # (service, function, version) of a call

    async def deploy(
        self,
        config: FunctionConfig,
        code: bytes | None,
        layers: Mapping[str, bytes] | None = None,
        progress: Progress | None = None,
    ) -> FunctionRecord:
        """Create or update a function; ``code`` is a zip (see ``codepkg``), None keeps the current code.

        Python functions need code; command and http functions may be created without. ``layers``
        holds the zips of the layers the config names, by checksum (those already stored may be left
        out). A ``requirements.txt`` in the code is installed first (``progress`` hears how it goes):
        the function changes only once its environment is ready, and not at all if it cannot be.
        """
        return await self.commit(await self.prepare(config, code, layers), progress)

    async def prepare(
        self, config: FunctionConfig, code: bytes | None, layers: Mapping[str, bytes] | None = None
    ) -> Deployment:
        """Check everything a deploy can check before installing anything (InvalidArgument if wrong)."""
        config.validate()
        checksum = ""
        if code is not None:
            try:
                codepkg.check(code)
                requirements.from_package(code)
            except ValueError as e:
                raise InvalidArgument(f"code package: {e}") from None
            checksum = codepkg.checksum(code)
        uploads = dict(layers or {})
        for key, data in uploads.items():
            try:
                codepkg.check(data)
            except ValueError as e:
                raise InvalidArgument(f"layer {key[:12]}: {e}") from None
            if codepkg.checksum(data) != key:
                raise InvalidArgument(f"layer {key[:12]}: its zip does not have that checksum")
        deployment = Deployment(config, code, checksum, uploads)
        await self.store.read(deployment.check)
        return deployment

    async def commit(self, deployment: Deployment, progress: Progress | None = None) -> FunctionRecord:
        """Install what the deployment's code needs, then store the function (see ``deploy``)."""
        config, code = deployment.config, deployment.code
        environment = None
        if code is not None and config.runtime in PYTHON_RUNTIMES:
            code_dir = await asyncio.to_thread(codepkg.unpack, code, self.code_root)
            environment = await self.dependencies.install(code_dir, progress)
        now = datetime.now(UTC)

        def put(tx: Tx) -> FunctionRecord:
            current = deployment.check(tx)
            options = config.options()
            if code is None:
                options[OPTION] = environment_of(current) if current is not None else {}
            elif environment is not None:
                options[OPTION] = {"hash": environment.hash, "python": environment.python}
                tx.put_environment(environment)
            for checksum, data in deployment.layers.items():
                tx.put_layer(checksum, data, now)
            named = {layer.checksum for layer in config.layers}
            missing = named - tx.touch_layers(named, now)
            if missing:
                raise InvalidArgument(f"layer(s) {', '.join(sorted(m[:12] for m in missing))} are not stored")
            record = FunctionRecord(
                service=config.service,
                name=config.name,
                runtime=config.runtime,
                handler=config.handler,
                code_checksum=deployment.checksum,
                timeout=config.timeout,
                memory_mb=config.memory_mb,
                max_instances=config.max_instances,
                environment=dict(config.environment),
                description=config.description,
                options=options,
            )
            key = _role_key(tx, current, config, now)
            if key is not None:
                record = replace(record, options={**record.options, ROLE_KEY: key})
            stored_code = code if code is not None or current is not None else b""  # no code yet: none
            return tx.put_function(record, stored_code, now)

        stored = await self.store.write(put)
        self._records.pop((config.service, config.name, LATEST), None)
        self.changed()
        return stored

    async def describe(self, service: str, name: str) -> tuple[FunctionRecord, EnvironmentRecord | None]:
        """The function, and the environment its requirements made (None if it has none)."""
        record = await self.get(service, name)
        hash = environment_of(record).get("hash")
        if not hash:
            return record, None
        return record, await self.store.read(lambda tx: tx.get_environment(str(hash)))

    async def prune(self, unused_for: float = 0.0) -> Pruned:
        """Remove what no deployed function uses: environments, layers and unpacked code on this machine
        (those unused for ``unused_for`` seconds, and not in use by this process's workers), and the
        environments and layers the store keeps (unnamed for a minute)."""
        records = await self.list()
        hashes = {str(environment_of(r).get("hash")) for r in records} - {"None", ""}
        layers = {layer.checksum for r in records for layer in config_of(r).layers}
        codes = {r.code_checksum for r in records}
        cutoff = datetime.now(UTC) - timedelta(seconds=STORED_GRACE)
        rows, blobs = await self.store.write(
            lambda tx: (tx.prune_environments(hashes, cutoff), tx.prune_layers(layers, cutoff))
        )
        in_use = self.pool.folders_in_use()
        deps = self.dependencies

        def local() -> tuple[list[str], list[str], list[str]]:
            return (
                deps.envs.prune(hashes | _keys(in_use, deps.envs.root), unused_for),
                folders.prune(
                    deps.layer_root, layers | _keys(in_use, deps.layer_root), unused_for=unused_for
                ),
                folders.prune(self.code_root, codes | _keys(in_use, self.code_root), unused_for=unused_for),
            )

        envs, layer_dirs, code_dirs = await asyncio.to_thread(local)
        return Pruned(envs, layer_dirs, code_dirs, rows, blobs)

    async def get(self, service: str, name: str) -> FunctionRecord:
        record = await self.store.read_point(lambda tx: tx.get_function(service, name))
        if record is None:
            raise NotFound(f"function {service}/{name} does not exist")
        return record

    async def list(self, service: str | None = None) -> list[FunctionRecord]:
        return await self.store.read(lambda tx: tx.list_functions(service))

    async def delete(self, service: str, name: str) -> None:
        """Delete a function and its logs, and stop its workers."""

        def drop(tx: Tx) -> bool:
            current = tx.get_function(service, name)
            if current is None or not tx.delete_function(service, name):
                return False
            tx.delete_function_logs(service, name)
            tx.delete_function_triggers(service, name)
            if current.options.get(ROLE_KEY):
                tx.delete_key(str(current.options[ROLE_KEY]))  # its instances' credentials stop working
            return True

        if not await self.store.write(drop):
            raise NotFound(f"function {service}/{name} does not exist")
        self._records.pop((service, name, LATEST), None)
        await self.pool.evict(service, name)
        self.secret_files.remove(service, name)

    async def scale(self, service: str, name: str, replicas: int) -> FunctionRecord:
        """Set the warm instances every process keeps started (0 to ``maxInstances``)."""
        record = await self.get(service, name)
        if not 0 <= replicas <= record.max_instances:
            raise InvalidArgument(
                f"replicas must be between 0 and the function's maxInstances ({record.max_instances}),"
                f" got {replicas}: deploy it with a higher maximum (max_inflight, com.openfaas.scale.max)"
            )
        scaled = await self.store.write(
            lambda tx: tx.scale_function(service, name, replicas, datetime.now(UTC))
        )
        if scaled is None:
            raise NotFound(f"function {service}/{name} does not exist")
        self._records.pop((service, name, LATEST), None)
        self.changed()
        return scaled

    async def warm(self, record: FunctionRecord) -> int:
        """Start (or release) this process's warm instances of the function; how many run."""
        spec = await self._spec(record, await self._versions(record))
        return await self.pool.keep_warm(spec, config_of(record).min_instances)

    async def warm_version(self, service: str, name: str, version: str, n: int) -> int:
        """Keep ``n`` instances of a function as a service version has it started in this process
        (an alias's reserved instances; 0 lets them stop when idle). How many run; a version that
        is gone has its workers stopped."""
        try:
            record, versions = await self._record(service, name, version)
        except NotFound:
            await self.pool.evict(service, name, version)
            return 0
        spec = await self._spec(record, versions, version)
        return await self.pool.keep_warm(spec, n)

    def available(self, record: FunctionRecord) -> int:
        """Instances ready for a call in this process: live Python workers; command and http
        functions start nothing ahead of a call, so they are always ready (at least 1)."""
        if record.runtime in PYTHON_RUNTIMES:
            return self.pool.workers(record.service, record.name)
        return max(1, config_of(record).min_instances)

    async def invoke(
        self,
        service: str,
        name: str,
        request: HttpRequest | bytes,
        *,
        request_id: str,
        qualifier: str = LATEST,
        version: str | None = None,
        http: bool = False,
        request_uri: str = "",
    ) -> InvocationResult:
        """Run the function once; NotFound if it is not deployed. Its errors are results, not exceptions.

        ``request`` is the HTTP request the gateway received (sub-path, query, headers, body), or
        bytes: an event, sent as a POST with that body (flows, the native invoke API). ``http``:
        it came through an HTTP trigger (``request_uri`` as sent), so a ``python3`` handler is
        called as a WSGI application. ``qualifier`` names a service version or alias (an alias
        with a second version picks one by its weight); ``version``, when the caller has
        resolved it already, the version to run. The result says which version ran.
        """
        if version is None:
            version = await self.qualifiers.resolve(service, qualifier)
        record, versions = await self._record(service, name, version)
        try:
            spec = await self._spec(record, versions, version)
        except FnflowError as e:  # a secret it cannot have: the call fails, saying why
            return self._cannot_run(record, request_id, e.message)
        own = bool(record.options.get(ROLE_KEY))  # its instances have credentials of their own
        context = InvocationContext(
            request_id=request_id,
            region=self.caller.region,
            account_id=self.caller.account_id,
            qualifier=qualifier,
            endpoint=self.caller.endpoint,
            access_key_id="" if own else self.caller.access_key_id,
            access_key_secret="" if own else self.caller.access_key_secret,
            http=http,
            request_uri=request_uri,
        )
        result = await self.pool.invoke(spec, request, context)
        self.served(service, name, version)
        return result if version == LATEST else replace(result, version=version)

    async def lookup(self, service: str, name: str, version: str = LATEST) -> FunctionRecord:
        """The function (as ``version`` has it), from a cache a few seconds old at most; NotFound if
        it is not deployed (or not in that version)."""
        return (await self._record(service, name, version))[0]

    def close(self) -> None:
        """Remove the secrets folders of this process."""
        self.secret_files.close()

    async def _record(
        self, service: str, name: str, version: str = LATEST
    ) -> tuple[FunctionRecord, Versions]:
        key = (service, name, version)
        cached = self._records.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1], cached[2]
        if version == LATEST:
            record = await self.get(service, name)
        else:
            found = await self.store.read(lambda tx: tx.get_version_function(service, int(version), name))
            if found is None:
                raise NotFound(f"function {service}/{name} is not in version {version} of its service")
            record = found
        versions = await self._versions(record)
        self._records[key] = (time.monotonic(), record, versions)
        return record, versions

    async def _versions(self, record: FunctionRecord) -> Versions:
        named = config_of(record).named_secrets
        if not named:
            return ()
        return tuple(await self.store.read(lambda tx: tx.secret_versions(record.service, named)))

    def _cannot_run(self, record: FunctionRecord, request_id: str, why: str) -> InvocationResult:
        message = f"function {record.service}/{record.name} cannot run: {why}"
        log.error("%s (call %s)", message, request_id)
        result = _responses.failure(
            record.runtime,
            "FC.InternalServerError",
            message,
            status=500,
            started_at=time.time(),
            duration=0.0,
        )
        return result

    async def _spec(self, record: FunctionRecord, versions: Versions, version: str = LATEST) -> FunctionSpec:
        version = "" if version == LATEST else version
        key = (record.service, record.name, version, record.code_checksum, record.updated_at, versions)
        spec = self._specs.get(key)
        if spec is not None:
            return spec
        environment = dict(record.environment)
        config = config_of(record)
        if config.named_secrets:
            environment.update(await self._secret_environment(config))
        if record.runtime == FC_RUNTIME:
            caller = self.caller
            environment = {
                **fc.process_environment(caller.endpoint, caller.region, caller.account_id),
                **environment,
            }
        code_dir = await self._code_dir(record, bool(version))
        python_path: tuple[str, ...] = ()
        if code_dir is not None and record.runtime in PYTHON_RUNTIMES:
            python_path = await self.dependencies.import_path(record, code_dir)
        spec = FunctionSpec(
            service=record.service,
            name=record.name,
            runtime=record.runtime,
            handler=record.handler,
            code_dir=code_dir,
            checksum=record.code_checksum,
            timeout=record.timeout,
            memory_mb=record.memory_mb,
            environment=environment,
            max_instances=record.max_instances,
            command=str(record.options.get("command", "")),
            upstream=str(record.options.get("upstream", "")),
            python_path=python_path,
            initializer=config.initializer,
            initialization_timeout=config.initialization_timeout,
            role_key=str(record.options.get(ROLE_KEY, "")),
            role=config.role,
            version=version,
        )
        self._specs = {k: v for k, v in self._specs.items() if k[:3] != key[:3]}  # one spec per function
        self._specs[key] = spec
        return spec

    async def _secret_environment(self, config: FunctionConfig) -> dict[str, str]:
        """Write the function's secrets folder; the variables that name it, and those that hold a
        secret (``secretEnvironment``)."""
        if self.secrets is None:
            raise InvalidArgument("this fnflow has no secret store")
        values = await self.secrets.values(config.service, config.named_secrets)
        folder = await asyncio.to_thread(
            self.secret_files.write,
            config.service,
            config.name,
            {name: values[name] for name in config.secrets},
        )
        environment = dict.fromkeys(SECRETS_PATH_VARIABLES, str(folder))
        for variable, secret in config.secret_environment.items():
            try:
                environment[variable] = values[secret].decode()
            except UnicodeDecodeError:
                raise InvalidArgument(
                    f"secret {secret!r} is not UTF-8 text, so it cannot be the variable {variable}"
                ) from None
        return environment

    async def _code_dir(self, record: FunctionRecord, published: bool = False) -> Path | None:
        """Where the function's code is unpacked (None if it has none), unpacking it on first use;
        ``published``: the record is of a service version, whose code is kept by checksum."""
        if not record.code_checksum:
            return None
        code_dir = self.code_root / record.code_checksum
        if code_dir.is_dir():
            return code_dir
        if published:
            code = await self.store.read(lambda tx: tx.get_version_code(record.code_checksum))
        else:
            code = await self.store.read(lambda tx: tx.get_function_code(record.service, record.name))
        if code is None:
            raise NotFound(f"function {record.service}/{record.name} does not exist")
        return await asyncio.to_thread(codepkg.unpack, code, self.code_root)


log = logging.getLogger(__name__)
ROLE_KEY = "roleKey"  # in a function's options: the id of its own key, when it has a role


def _nothing() -> None:
    pass


def _served(service: str, function: str, version: str) -> None:
    pass


def _keys(paths: Collection[str], root: Path) -> set[str]:
    """The names of the folders under ``root`` that these paths are in."""
    found = set()
    for path in paths:
        parts = Path(path).parts
        if Path(*parts[: len(root.parts)]) == root and len(parts) > len(root.parts):
            found.add(parts[len(root.parts)])
    return found


def _role_key(tx: Tx, current: FunctionRecord | None, config: FunctionConfig, now: datetime) -> str | None:
    """The function's own key for its role: kept while the role stays, replaced when it changes
    (the old key's credentials stop working), made when it gets one; None without a role."""
    previous = str(current.options.get(ROLE_KEY, "")) if current is not None else ""
    same_role = current is not None and current.options.get("role") == config.role
    if previous and same_role and tx.get_key(previous) is not None:
        return previous
    if previous:
        tx.delete_key(previous)
    if not config.role:
        return None
    key = new_key(config.role, f"the credentials of function {config.service}/{config.name} (its role)")
    tx.put_key(replace(key, created_at=now))
    return key.id
