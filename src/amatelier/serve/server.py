"""Run the jobs API: check the bind is safe, bind the socket, hand it to uvicorn.

Binding the socket here (not inside uvicorn) lets `--port 0` pick a free port and print it, and
turns "address in use" into one clear error before anything starts.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

TOKEN_ENV = "AMATELIER_SERVE_TOKEN"
INSTALL_HINT = "amatelier serve needs the serve extra: pip install '.[serve]' from your amatelier checkout"


class ServeError(RuntimeError):
    """The server cannot start as asked; the message says why and what to do."""


@dataclass
class Bound:
    sock: socket.socket
    host: str
    port: int
    loopback: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost` are loopback; anything else (0.0.0.0 too) is not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def available() -> bool:
    """Whether the serve extra (starlette, uvicorn) is installed, without importing it."""
    from importlib.util import find_spec

    return find_spec("starlette") is not None and find_spec("uvicorn") is not None


def check_bind(host: str, token: str | None) -> bool:
    """Loopback binds need nothing; any other bind needs a token (ServeError says so)."""
    if is_loopback(host):
        return True
    if not token:
        raise ServeError(f"binding to {host} exposes the jobs API beyond this machine; set {TOKEN_ENV} "
                         "to a secret and clients must send 'Authorization: Bearer <token>' "
                         "(or bind to 127.0.0.1)")
    if len(token) < 16:
        raise ServeError(f"{TOKEN_ENV} is too short for a non-loopback bind: use at least 16 characters")
    return False


def bind(host: str, port: int) -> Bound:
    """A listening socket on host:port (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port must be between 0 and 65535 (got {port})")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"cannot resolve --host {host}: {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return Bound(sock=sock, host=host, port=sock.getsockname()[1], loopback=is_loopback(host))


def token_from_env() -> str | None:
    value = os.environ.get(TOKEN_ENV, "").strip()
    return value or None


def run(bound: Bound, *, token: str | None, max_jobs: int) -> None:
    """Serve until SIGINT/SIGTERM; running jobs keep going (a later server picks them up)."""
    import uvicorn

    from amatelier.serve.app import build_app
    from amatelier.serve.jobs import JobManager

    manager = JobManager(max_jobs=max_jobs)
    app = build_app(manager, token=token, loopback=bound.loopback)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                            lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[bound.sock])
    finally:
        manager.shutdown()
        bound.sock.close()
