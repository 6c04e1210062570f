"""nginx as the floor for file transfers: a real file server serving GET and taking PUT (its DAV
module) of files under a root, on its own loopback port.

Started by the benchmark with a config generated into a temp dir (``scripts/bench-tools``
installs the Debian package when it is missing), never as the system's service: no daemon, no
master process (one process, as ``dingstore serve`` is one), no access log, its pid, error log
and temporary files in that dir. GET is served with ``sendfile``. A PUT lands in a temporary
file in ``root/.tmp`` that nginx renames into place (``create_full_put_path`` makes the
folders); nginx does not ``fsync`` what it was sent, so its uploads are not durable as
dingstore's are, and the benchmark shows the disk's write + fsync speed beside it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common import TOKEN_HEADER, BenchError, Server, free_port, running, wait_ready

CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {root}/.tmp;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_max_body_size 0;
        client_body_buffer_size 1m;
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw;
        }}
    }}
}}
"""

READY_FILE = "ready"


def executable() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise BenchError("nginx is not installed: run scripts/bench-tools")
    return found


def nginx_server(tmp: Path, port: int) -> tuple[Server, Path]:
    """nginx serving (and taking PUTs into) ``tmp/root`` on ``port``; its config written to
    ``tmp``. Returns how to start it and the root."""
    root = tmp / "root"
    (root / ".tmp").mkdir(parents=True)
    (root / READY_FILE).write_bytes(b"")
    config = tmp / "nginx.conf"
    config.write_text(CONFIG.format(tmp=tmp, root=root, port=port))
    # -e: the error log from the start (before the config is read, nginx would open its default)
    cmd = [executable(), "-p", str(tmp), "-c", str(config), "-e", str(tmp / "error.log")]
    return Server("nginx", cmd, {}, port, "/" + READY_FILE), root


@dataclass
class Pair:
    """dingstore and nginx, both running and ready: how to reach each, nginx's root."""

    server: Server
    floor: Server
    root: Path
    procs: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]

    def check_alive(self) -> None:
        """Fail the run if either server exited during it."""
        for label, process in zip((self.server.label, self.floor.label), self.procs, strict=True):
            if process.poll() is not None:
                raise BenchError(f"{label} exited ({process.returncode}) during the run")


@contextlib.contextmanager
def beside(server: Server, token: str, tmp: Path, floor_dir: Path) -> Iterator[Pair]:
    """``server`` (dingstore, its log in ``tmp``) and nginx on ``floor_dir``, for the block."""
    floor, root = nginx_server(floor_dir, free_port())
    with (
        running(server, tmp / "server.log") as proc,
        running(floor, floor_dir / "nginx.log") as floor_proc,
    ):
        wait_ready(proc, server.base_url + server.ready_path, {TOKEN_HEADER: token})
        wait_ready(floor_proc, floor.base_url + floor.ready_path, {})
        yield Pair(server, floor, root, (proc, floor_proc))


def version() -> str:
    """``nginx -v``'s answer, e.g. ``nginx/1.22.1``."""
    done = subprocess.run([executable(), "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().removeprefix("nginx version: ")
