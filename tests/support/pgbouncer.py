"""A real PgBouncer in transaction pooling mode, in front of the tests'
PostgreSQL (127.0.0.1:5432, trust auth), on a loopback port.

``scripts/services`` installs Debian's ``pgbouncer`` package; nothing here
skips: :func:`run_pgbouncer` raises, naming the fix, when the binary is
missing or the bouncer doesn't answer. Use the session fixture
:func:`pgbouncer` (import it into a test module or a conftest), or the
context manager for a bouncer of your own::

    from tests.support.pgbouncer import pgbouncer  # noqa: F401 (a fixture)

    @pytest.mark.postgres
    def test_through_the_bouncer(pgbouncer: Bouncer) -> None:
        psycopg.connect(pgbouncer.dsn("test"))

Clients connect as any user to any database name: the bouncer forwards each
database to PostgreSQL as user ``postgres`` (``auth_type = any``), so a
Django alias only changes its ``PORT`` (see :meth:`Bouncer.database`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.servers import free_port

BINARY_MISSING = (
    "pgbouncer is not installed; run scripts/services (it installs Debian's "
    "pgbouncer package), or apt-get install pgbouncer."
)

CONFIG = """
[databases]
* = host={pg_host} port={pg_port} user={pg_user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options,application_name
server_reset_query =
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
admin_users = {pg_user}
"""


@dataclass(frozen=True)
class Bouncer:
    host: str
    port: int
    pool_mode: str
    log: Path

    def dsn(self, dbname: str) -> str:
        return f"host={self.host} port={self.port} user=postgres dbname={dbname}"

    def database(self, settings: dict[str, Any]) -> dict[str, Any]:
        """A Django database entry like ``settings``, through this bouncer,
        with server-side cursors off (which transaction pooling needs)."""
        return {
            **settings,
            "HOST": self.host,
            "PORT": str(self.port),
            "DISABLE_SERVER_SIDE_CURSORS": True,
        }

    def release(self, dbname: str, timeout: float = 10) -> None:
        """Close the bouncer's connections to ``dbname`` and wait until
        PostgreSQL has ended them (so the test database can be dropped)."""
        pids = self.server_pids(dbname)
        with psycopg.connect(self.dsn("pgbouncer"), autocommit=True) as conn:
            conn.execute(f"KILL {dbname}")
            conn.execute(f"RESUME {dbname}")
        deadline = time.monotonic() + timeout
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            while pids and time.monotonic() < deadline:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]
                ).fetchall()
                if not rows:
                    return
                time.sleep(0.05)

    def server_pids(self, dbname: str | None = None) -> set[int]:
        """The PostgreSQL backends the bouncer holds (``SHOW SERVERS``)."""
        with psycopg.connect(self.dsn("pgbouncer"), autocommit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("SHOW SERVERS")
            names = [column.name for column in cursor.description or ()]
            return {
                int(row[names.index("remote_pid")])
                for row in cursor
                if dbname is None or row[names.index("database")] == dbname
            }


def _binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        raise RuntimeError(BINARY_MISSING)
    return found


@contextmanager
def run_pgbouncer(
    *, pool_mode: str = "transaction", pool_size: int = 4
) -> Iterator[Bouncer]:
    """Start a pgbouncer on a free loopback port; stop it at the end."""
    binary = _binary()
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="streamkit-pgbouncer-"))
    conf = workdir / "pgbouncer.ini"
    conf.write_text(
        CONFIG.format(
            pg_host=os.environ.get("STREAMKIT_TEST_PGHOST", "127.0.0.1"),
            pg_port=os.environ.get("STREAMKIT_TEST_PGPORT", "5432"),
            pg_user=os.environ.get("STREAMKIT_TEST_PGUSER", "postgres"),
            port=port,
            pool_mode=pool_mode,
            pool_size=pool_size,
            dir=workdir,
        )
    )
    command = [binary, str(conf)]
    if os.geteuid() == 0:
        # pgbouncer refuses to run as root: it drops to the postgres user.
        user = "postgres" if _has_user("postgres") else "nobody"
        command[1:1] = ["-u", user]
        os.chmod(workdir, 0o777)
        conf.chmod(0o644)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    bouncer = Bouncer("127.0.0.1", port, pool_mode, workdir / "pgbouncer.log")
    try:
        _wait_until_up(bouncer, process)
        yield bouncer
    finally:
        process.send_signal(signal.SIGTERM)  # immediate shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_until_up(
    bouncer: Bouncer, process: subprocess.Popen[bytes], timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with psycopg.connect(bouncer.dsn("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error as exc:
            error = exc
            time.sleep(0.1)
    log = bouncer.log.read_text() if bouncer.log.exists() else ""
    raise RuntimeError(
        f"pgbouncer did not answer on 127.0.0.1:{bouncer.port} ({error}); "
        f"is PostgreSQL up on 127.0.0.1:5432 (scripts/services)?\n{log[-3000:]}"
    )


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[Bouncer]:
    """One transaction-pooling pgbouncer for the whole test session."""
    with run_pgbouncer() as bouncer:
        yield bouncer
