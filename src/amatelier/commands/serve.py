"""CLI command for the HTTP jobs API and live page: `amatelier serve`."""

from __future__ import annotations

import json
import sys

import typer

from amatelier.commands.errors import UserError


def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST",
                             help="Address to bind. Anything but loopback needs AMATELIER_SERVE_TOKEN."),
    port: int = typer.Option(8765, "--port", metavar="PORT", help="Port to listen on (0: any free port)."),
    max_jobs: int = typer.Option(2, "--max-jobs", metavar="N", help="Roundtables run at once; more wait queued."),
    as_json: bool = typer.Option(False, "--json", help="Print the startup line as JSON (url, host, port, auth)."),
) -> None:
    """Serve the jobs API (POST /v1/jobs ...) and a live page of running roundtables.

    Each job runs as an ordinary `amatelier roundtable` process. Binds to 127.0.0.1 by default;
    to bind elsewhere set AMATELIER_SERVE_TOKEN and send `Authorization: Bearer <token>`.
    Stop with Ctrl-C (running roundtables carry on).
    """
    from amatelier.serve import server

    try:
        if not server.available():
            raise server.ServeError(server.INSTALL_HINT)
        if not 1 <= max_jobs <= 64:
            raise server.ServeError(f"--max-jobs must be between 1 and 64 (got {max_jobs})")
        token = server.token_from_env()
        server.check_bind(host, token)
        from amatelier import paths

        paths.ensure_user_data()
        bound = server.bind(host, port)
    except server.ServeError as exc:
        if as_json:
            print(json.dumps({"error": str(exc), "code": 2}), file=sys.stderr, flush=True)
            raise typer.Exit(2) from None
        raise UserError(str(exc)) from None
    auth = bool(token)
    if as_json:
        print(json.dumps({"url": bound.url, "host": host, "port": bound.port, "auth": auth,
                          "loopback": bound.loopback, "max_jobs": max_jobs}), flush=True)
    else:
        note = ("bearer token required (AMATELIER_SERVE_TOKEN)" if auth
                else "no auth: loopback only")
        print(f"amatelier serve: listening on {bound.url} · {note} · Ctrl-C to stop", flush=True)
    server.run(bound, token=token, max_jobs=max_jobs)


def register(app) -> None:
    """Add this area's commands to the typer app."""
    app.command("serve")(serve)
