"""The ASGI app: the five job routes, the live page, auth and the guards around them.

Every error is JSON `{"error": "...", "code": <http status>}`. With a token configured every
/v1 route needs `Authorization: Bearer <token>`; on a loopback bind the Host header must name a
loopback host (DNS-rebinding guard) and a POST from another origin is refused, so a web page
the user happens to visit cannot start or cancel roundtables.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from amatelier.serve.jobs import JobConflict, JobManager, JobNotFound
from amatelier.serve.requests import (
    MAX_BODY_BYTES,
    BadRequest,
    decode_body,
    parse_job_request,
    parse_say_request,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def error(message: str, status: int) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message, "code": status}, status_code=status)


def _host_only(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def guard(request: Any, *, token: str | None, loopback: bool) -> Any:
    """The response refusing this request, or None when it may go on."""
    path = request.url.path
    if loopback and _host_only(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
        return error("this server only answers requests addressed to a loopback host", 403)
    if request.method == "POST":
        origin = request.headers.get("origin")
        if origin and origin != "null":
            if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
                return error("cross-origin requests are refused", 403)
        elif origin == "null":
            return error("cross-origin requests are refused", 403)
    if token and path.startswith("/v1/"):
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            response = error("missing or wrong bearer token (Authorization: Bearer $AMATELIER_SERVE_TOKEN)", 401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="amatelier"'
            return response
    return None


async def read_capped(request: Any) -> bytes:
    """The request body, refused (413) as soon as it is larger than the cap, never read whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(manager: JobManager, *, token: str | None = None, loopback: bool = True) -> Any:
    """The starlette application serving `manager`'s jobs."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route

    from amatelier.serve import stream, views
    from amatelier.serve.page import page_html

    class Guard:
        """Pure ASGI middleware (streams pass through untouched) that refuses unwanted requests."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                refused = guard(Request(scope), token=token, loopback=loopback)
                if refused is not None:
                    await refused(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    def view_of(record: dict[str, Any], full: bool) -> dict[str, Any]:
        conn = views.read_only_db()
        try:
            return views.job_view(record, full=full, conn=conn)
        finally:
            if conn is not None:
                conn.close()

    async def index(request: Any) -> Any:
        return HTMLResponse(page_html(), headers={"Cache-Control": "no-store",
                                                  "Content-Security-Policy": "default-src 'self'; "
                                                  "script-src 'unsafe-inline'; style-src 'unsafe-inline'"})

    async def create_job(request: Any) -> Any:
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            return error("send the job as JSON (Content-Type: application/json)", 415)
        try:
            raw = await read_capped(request)
            job = parse_job_request(decode_body(raw))
            record = await run_in_threadpool(manager.submit, job)
        except BadRequest as exc:
            return error(str(exc), exc.status)
        view = await run_in_threadpool(view_of, record, False)
        return JSONResponse(view, status_code=202, headers={"Location": view["links"]["self"]})

    async def list_jobs(request: Any) -> Any:
        try:
            limit = min(500, max(1, int(request.query_params.get("limit", "50"))))
        except ValueError:
            return error("limit must be a whole number", 400)
        records = await run_in_threadpool(manager.list, limit)
        conn = await run_in_threadpool(views.read_only_db)
        try:
            jobs = [views.job_view(r, full=False, conn=conn) for r in records]
        finally:
            if conn is not None:
                conn.close()
        return JSONResponse({"jobs": jobs})

    async def get_job(request: Any) -> Any:
        try:
            record = await run_in_threadpool(manager.load, request.path_params["job_id"])
        except JobNotFound:
            return error(f"no job with id {request.path_params['job_id']}", 404)
        return JSONResponse(await run_in_threadpool(view_of, record, True))

    async def cancel_job(request: Any) -> Any:
        try:
            record = await run_in_threadpool(manager.cancel, request.path_params["job_id"])
        except JobNotFound:
            return error(f"no job with id {request.path_params['job_id']}", 404)
        except JobConflict as exc:
            return error(str(exc), 409)
        return JSONResponse(await run_in_threadpool(view_of, record, False), status_code=202)

    async def say(request: Any) -> Any:
        job_id = request.path_params["job_id"]
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            return error("send the message as JSON (Content-Type: application/json)", 415)
        try:
            text, name = parse_say_request(decode_body(await read_capped(request)))
            posted = await run_in_threadpool(manager.say, job_id, text, name)
        except BadRequest as exc:
            return error(str(exc), exc.status)
        except JobNotFound:
            return error(f"no job with id {job_id}", 404)
        except JobConflict as exc:
            return error(str(exc), 409)
        return JSONResponse(posted, status_code=201)

    async def stream_job(request: Any) -> Any:
        job_id = request.path_params["job_id"]
        try:
            await run_in_threadpool(manager.load, job_id)
        except JobNotFound:
            return error(f"no job with id {job_id}", 404)
        cursor = stream.Cursor.parse(request.headers.get("last-event-id")
                                     or request.query_params.get("last_event_id"))
        return StreamingResponse(stream.events(manager, job_id, cursor), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def not_found(request: Any, exc: Any) -> Any:
        return error(f"no route {request.method} {request.url.path}", getattr(exc, "status_code", 404))

    async def server_error(request: Any, exc: Exception) -> Any:
        return error(f"internal error: {type(exc).__name__}", 500)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/v1/jobs", create_job, methods=["POST"]),
        Route("/v1/jobs", list_jobs, methods=["GET"]),
        Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/v1/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
        Route("/v1/jobs/{job_id}/say", say, methods=["POST"]),
        Route("/v1/jobs/{job_id}/stream", stream_job, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard)],
                     exception_handlers={404: not_found, 405: not_found, 500: server_error})
