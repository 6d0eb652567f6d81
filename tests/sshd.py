"""A throwaway OpenSSH server for tests of DVC's SSH remote.

``SshServer`` runs Debian's ``sshd`` in the foreground on 127.0.0.1, on a free
port, with a host key, a client key, an ``authorized_keys`` file and a config
that all live in one temporary folder. It serves SFTP only through
``internal-sftp``, so nothing outside that folder is configured or touched.
Use it through :func:`running_sshd`, which stops the server by its process id
even when the test fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Debian's openssh-server installs sshd here; /usr/sbin is often not on a
# non-root PATH, hence the fallbacks after ``shutil.which``.
_SSHD_LOCATIONS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
# sshd refuses to start without its privilege-separation folder, which the
# Debian package only creates from its init script (not run in containers).
_PRIVSEP_DIR = Path("/run/sshd")
_START_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 10.0


def find_sshd() -> str | None:
    """Absolute path of the ``sshd`` executable, or None when it is not installed.

    sshd re-executes itself for every connection, so it must be started by an
    absolute path.
    """
    found = shutil.which("sshd")
    if found:
        return os.path.abspath(found)
    return next((path for path in _SSHD_LOCATIONS if os.access(path, os.X_OK)), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _child_pids(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc), children before grandchildren.

    sshd forks one process per connection and that process calls setsid(), so
    the connections are not in the listener's process group: they have to be
    found by parent id to be stopped too.
    """
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Field 4 is the parent pid; the command name (field 2) may hold spaces.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


class SshServer:
    """One sshd on 127.0.0.1 that accepts ``user`` with ``client_key`` only.

    ``start`` may be called again after ``stop``/``kill`` (same port, same
    keys), which is how tests model a server that crashed and came back.
    """

    def __init__(self, workdir: Path, sshd: str) -> None:
        self.workdir = workdir
        self.sshd = sshd
        self.host = "127.0.0.1"
        self.port = free_port()
        # The account this process runs as (root in CI), not $USER, which may lie.
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.client_key = workdir / "client_ed25519"
        self.log_path = workdir / "sshd.log"
        self._config = workdir / "sshd_config"
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self._write_keys_and_config()

    def _write_keys_and_config(self) -> None:
        host_key = self.workdir / "host_ed25519"
        for key in (host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dvc-remote-test", "-f", str(key)],
                check=True,
                capture_output=True,
            )
        authorized = self.workdir / "authorized_keys"
        shutil.copyfile(self.client_key.with_suffix(".pub"), authorized)
        authorized.chmod(0o600)
        self._config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.host}",
                    f"Port {self.port}",
                    f"HostKey {host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    f"AllowUsers {self.user}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    # Tests run as root in CI; only this test key can log in.
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    # The temporary folder's permissions are not sshd's business.
                    "StrictModes no",
                    "Subsystem sftp internal-sftp",
                    # DVC opens several SFTP channels per connection (sshfs: up to 10).
                    "MaxSessions 32",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    @property
    def pid(self) -> int | None:
        """Process id of the listening sshd, or None when it is not running."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def url(self, remote_path: Path | str) -> str:
        """An ``ssh://`` URL for an absolute path on this server."""
        return f"ssh://{self.user}@{self.host}:{self.port}{Path(remote_path).as_posix()}"

    def log(self) -> str:
        """What sshd wrote so far (it logs to stderr with ``-e``)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Start sshd and wait until it answers with an SSH banner on its port."""
        if self.pid is not None:
            raise RuntimeError(f"sshd is already running (pid {self.pid})")
        if os.geteuid() == 0:
            _PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.sshd, "-D", "-e", "-f", str(self._config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited with {self._process.returncode} at start-up:\n{self.log()}")
            if self._answers_ssh():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on {self.host}:{self.port} within {_START_TIMEOUT_S} s:\n{self.log()}")

    def _answers_ssh(self) -> bool:
        """True when the port accepts a connection and greets with an SSH banner.

        Checking the banner, not just the connect, makes sure it is our sshd
        that listens and not something that took the port in between.
        """
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as conn:
                return conn.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def wait_until_idle(self, timeout_s: float = _STOP_TIMEOUT_S) -> None:
        """Wait until no connection is open, i.e. the server finished what clients sent.

        After a client dies, its connection process may still apply requests
        that had already arrived; tests that inspect the served folder wait
        for that first.
        """
        deadline = time.monotonic() + timeout_s
        while self.pid is not None and any(_alive(pid) for pid in _child_pids(self.pid)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd still has open connections after {timeout_s} s:\n{self.log()}")
            time.sleep(0.05)

    def _signal_all(self, signum: int) -> list[int]:
        """Send ``signum`` to the listener and every connection process; their pids."""
        if self._process is None:
            return []
        pids = [self._process.pid, *_child_pids(self._process.pid)]
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        return pids

    def _wait_gone(self, pids: list[int]) -> None:
        assert self._process is not None
        self._process.wait(timeout=_STOP_TIMEOUT_S)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for pid in pids[1:]:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)

    def kill(self) -> None:
        """Crash the server: SIGKILL the listener and every open connection at once."""
        if self.pid is not None:
            self._wait_gone(self._signal_all(signal.SIGKILL))
        self._process = None

    def stop(self) -> None:
        """Stop the server and its connections by process id (SIGTERM, then SIGKILL)."""
        if self.pid is None:
            self._process = None
            return
        pids = self._signal_all(signal.SIGTERM)
        try:
            self._wait_gone(pids)
        except subprocess.TimeoutExpired:
            self.kill()
        self._process = None


@contextmanager
def running_sshd(workdir: Path, sshd: str) -> Iterator[SshServer]:
    """A started :class:`SshServer` in ``workdir``, always stopped on exit."""
    server = SshServer(workdir, sshd)
    try:
        server.start()
        yield server
    finally:
        server.stop()
