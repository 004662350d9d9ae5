"""A throwaway Redis for tests: Debian's ``redis-server`` on a free loopback port, in its own
directory, persisting nothing. Skipped where absent; under CI (``CI`` set) that fails instead,
because `.ci/run` installs Debian's ``redis-server``."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

from tests.postgres import free_port, unavailable


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Redis until the block ends; yields its URL, ``redis://127.0.0.1:<port>/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("no redis-server here: install Debian's redis-server package")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (directory / "redis.log").read_text(errors="replace")[-1000:] if (directory / "redis.log").exists() else ""
                    unavailable(f"redis-server did not start:\n{log}")
                time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
