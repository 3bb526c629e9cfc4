"""The ``/_sandbox/`` admin routes every sandbox mounts (they do not exist on the real APIs; no auth on them).

POST /_sandbox/reset              clear data, faults, request log, rate buckets, idempotency cache
POST /_sandbox/load               body {resource: [records]}, upsert by key -> {"loaded", "counts"}
GET  /_sandbox/counts             {resource: n}
GET  /_sandbox/dump/{resource}    {resource: [records]}
GET  /_sandbox/faults             the FaultConfig
PUT  /_sandbox/faults             change some fields (partial JSON object) -> the new FaultConfig
GET  /_sandbox/requests           {"requests": [...]}; DELETE clears the log
GET  /_sandbox/stats              counters
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from sandbox.common.faults import ADMIN_PREFIX, FaultInjector
from sandbox.common.requestlog import RequestLog


class AdminTarget(Protocol):
    """What a sandbox must offer to get the admin routes."""

    faults: FaultInjector
    request_log: RequestLog

    def reset(self) -> None: ...
    def load(self, data: dict[str, list[dict]]) -> dict[str, int]: ...
    def counts(self) -> dict[str, int]: ...
    def dump(self, resource: str) -> list[dict]: ...  # KeyError for an unknown resource
    def stats(self) -> dict[str, Any]: ...


def _bad_request(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def _json_object(request: Request) -> dict | JSONResponse:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _bad_request("body is not valid JSON")
    if not isinstance(body, dict):
        return _bad_request("body must be a JSON object")
    return body


def admin_mount(target: AdminTarget, extra_routes: list[BaseRoute] | None = None) -> Mount:
    """The admin routes, plus any sandbox-specific ones (which must live under the same mount)."""

    async def reset(request: Request) -> JSONResponse:
        target.reset()
        return JSONResponse({"reset": True, "counts": target.counts()})

    async def load(request: Request) -> JSONResponse:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            loaded = target.load(body)
        except KeyError as exc:
            return _bad_request(f"unknown resource {exc.args[0]!r}", 404)
        except (ValueError, TypeError) as exc:
            return _bad_request(str(exc), 422)
        return JSONResponse({"loaded": loaded, "counts": target.counts()})

    async def counts(request: Request) -> JSONResponse:
        return JSONResponse(target.counts())

    async def dump(request: Request) -> JSONResponse:
        resource = request.path_params["resource"]
        try:
            return JSONResponse({resource: target.dump(resource)})
        except KeyError:
            return _bad_request(f"unknown resource {resource!r}", 404)

    async def faults(request: Request) -> JSONResponse:
        if request.method == "PUT":
            body = await _json_object(request)
            if isinstance(body, JSONResponse):
                return body
            try:
                target.faults.set(**body)
            except ValueError as exc:
                return _bad_request(str(exc), 422)
        return JSONResponse(target.faults.as_dict())

    async def requests(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            target.request_log.clear()
        return JSONResponse({"requests": target.request_log.entries()})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(target.stats())

    return Mount(
        ADMIN_PREFIX,
        routes=[
            Route("/reset", reset, methods=["POST"]),
            Route("/load", load, methods=["POST"]),
            Route("/counts", counts, methods=["GET"]),
            Route("/dump/{resource}", dump, methods=["GET"]),
            Route("/faults", faults, methods=["GET", "PUT"]),
            Route("/requests", requests, methods=["GET", "DELETE"]),
            Route("/stats", stats, methods=["GET"]),
            *(extra_routes or []),
        ],
    )
