"""``/api/v1/services/{service}/versions`` and ``…/aliases``: service versions and aliases, as
Function Compute 2.0 has them (``versionId``, ``additionalVersionWeight``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import Body
from fnflow.fdl.timestamps import format_timestamp
from fnflow.store import AliasRecord, ServiceVersionRecord

router = APIRouter(prefix="/api/v1/services", tags=["versions"])


class PublishIn(Body):
    description: str = ""


class VersionOut(BaseModel):
    serviceName: str
    versionId: str
    description: str
    createdTime: str
    functions: list[str] = Field(description="the functions the version has")

    @classmethod
    def of(cls, v: ServiceVersionRecord) -> VersionOut:
        return cls(
            serviceName=v.service,
            versionId=str(v.version_id),
            description=v.description,
            createdTime=format_timestamp(v.created_at),
            functions=list(v.functions),
        )


class VersionList(BaseModel):
    versions: list[VersionOut]


class AliasIn(Body):
    versionId: str | int = Field(description="the version the alias names")
    additionalVersionWeight: dict[str, float] | None = Field(
        None, description='one more version and the share of calls it gets, 0-1: {"2": 0.1}'
    )
    description: str = ""
    reservedInstances: int = Field(
        0, description="instances of each function of its version every process keeps started"
    )


class AliasOut(BaseModel):
    serviceName: str
    aliasName: str
    versionId: str
    additionalVersionWeight: dict[str, float]
    description: str
    reservedInstances: int
    createdTime: str
    lastModifiedTime: str

    @classmethod
    def of(cls, a: AliasRecord) -> AliasOut:
        weights = (
            {} if a.additional_version_id is None else {str(a.additional_version_id): a.additional_weight}
        )
        return cls(
            serviceName=a.service,
            aliasName=a.name,
            versionId=str(a.version_id),
            additionalVersionWeight=weights,
            description=a.description,
            reservedInstances=a.reserved_instances,
            createdTime=format_timestamp(a.created_at),
            lastModifiedTime=format_timestamp(a.updated_at),
        )


class AliasList(BaseModel):
    aliases: list[AliasOut]


@router.post("/{service}/versions", status_code=201)
async def publish_version(service: str, body: PublishIn, request: Request, _: Admin) -> VersionOut:
    """Publish the service's functions as they are now as its next version (409 NothingChanged if
    nothing changed since the last one)."""
    return VersionOut.of(await root(request).versions.publish(service, body.description))


@router.get("/{service}/versions")
async def list_versions(service: str, request: Request, _: Invoke) -> VersionList:
    """The service's versions, newest first."""
    return VersionList(versions=[VersionOut.of(v) for v in await root(request).versions.versions(service)])


@router.get("/{service}/versions/{version}")
async def get_version(service: str, version: str, request: Request, _: Invoke) -> VersionOut:
    return VersionOut.of(await root(request).versions.get(service, version))


@router.delete("/{service}/versions/{version}", status_code=204)
async def delete_version(service: str, version: str, request: Request, _: Admin) -> Response:
    """Delete a version; 409 while an alias sends calls to it."""
    await root(request).versions.delete(service, version)
    return Response(status_code=204)


@router.put("/{service}/aliases/{alias}", response_model=AliasOut, responses={201: {"model": AliasOut}})
async def put_alias(
    service: str, alias: str, body: AliasIn, request: Request, response: Response, _: Admin
) -> AliasOut:
    """Create or change an alias: a version, and optionally one more with a share of the calls."""
    record, created = await root(request).versions.put_alias(
        service,
        alias,
        body.versionId,
        body.additionalVersionWeight,
        body.description,
        body.reservedInstances,
    )
    response.status_code = 201 if created else 200
    return AliasOut.of(record)


@router.get("/{service}/aliases")
async def list_aliases(service: str, request: Request, _: Invoke) -> AliasList:
    return AliasList(aliases=[AliasOut.of(a) for a in await root(request).versions.list_aliases(service)])


@router.get("/{service}/aliases/{alias}")
async def get_alias(service: str, alias: str, request: Request, _: Invoke) -> AliasOut:
    return AliasOut.of(await root(request).versions.get_alias(service, alias))


@router.delete("/{service}/aliases/{alias}", status_code=204)
async def delete_alias(service: str, alias: str, request: Request, _: Admin) -> Response:
    await root(request).versions.delete_alias(service, alias)
    return Response(status_code=204)
