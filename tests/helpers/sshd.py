"""A throwaway OpenSSH server for tests of DVC's SSH remote.

``SshServer`` runs Debian's ``sshd`` in the foreground on 127.0.0.1, on a free
port, with a host key, a client key, an ``authorized_keys`` file and a config
that all live in one temporary folder. It serves SFTP only through
``internal-sftp``, so nothing outside that folder is configured or touched.
Use it through :func:`running_sshd`, which stops the server by its process id
even when the test fails. A gated server (``gated=True``) serves SFTP through
``tests/helpers/sftp_gate.py`` instead, so a test can hold an upload still at a moment
chosen by what reached the server (:class:`SftpGate`).
"""

from __future__ import annotations

import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
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
# The external SFTP server that a gated server wraps (Debian's openssh-sftp-server).
_SFTP_SERVER_LOCATIONS = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server")
_GATE_SCRIPT = Path(__file__).with_name("sftp_gate.py")
_START_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 10.0
# Ports for servers: below Linux's default ephemeral range (32768-60999), so no
# outgoing connection is handed one while the server is down; drawn at random,
# so parallel test workers (pytest-xdist) rarely draw the same one. When they
# do, or anything else binds it first, ``start`` draws another.
_SERVER_PORTS = (20000, 32767)
_PORT_ATTEMPTS = 5


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
    """A random TCP port on 127.0.0.1, out of the ephemeral range, that nothing is bound to right now."""
    draw = random.SystemRandom()
    while True:
        port = draw.randint(*_SERVER_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


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


def find_sftp_server() -> str | None:
    """Absolute path of OpenSSH's external ``sftp-server``, or None when it is not installed."""
    return next((path for path in _SFTP_SERVER_LOCATIONS if os.access(path, os.X_OK)), None)


class SftpGate:
    """The control folder of a gated server's SFTP channels (see ``tests/helpers/sftp_gate.py``).

    :meth:`arm` names the moment to hold: the first file opened for writing
    once ``count`` files match ``pattern`` under ``directory``. From then on
    no channel passes on a request until :meth:`release`, so the client can
    neither finish nor go on, however long the test takes to act.
    """

    def __init__(self, control_dir: Path) -> None:
        self.control_dir = control_dir
        control_dir.mkdir(parents=True, exist_ok=True)

    def subsystem(self, sftp_server: str) -> str:
        """The sshd ``Subsystem sftp`` command that runs ``sftp_server`` behind this gate."""
        words = [sys.executable, str(_GATE_SCRIPT), str(self.control_dir), sftp_server]
        # sshd passes the command to the login shell as one string: keep it unquoted and simple.
        if any(char.isspace() for word in words for char in word):
            raise ValueError(f"paths for the SFTP gate must not contain spaces: {words}")
        return " ".join(words)

    def arm(self, directory: Path, pattern: str, count: int) -> None:
        """Hold every channel at the first write-open once ``count`` files match ``pattern`` in ``directory``."""
        self.release()
        armed = {"directory": str(directory), "pattern": pattern, "count": count}
        (self.control_dir / "armed").write_text(json.dumps(armed))

    @property
    def holding(self) -> bool:
        return (self.control_dir / "held").exists()

    def release(self, *, drop_held: bool = False) -> None:
        """Disarm and let the channels go on; with ``drop_held`` what they hold is never applied."""
        (self.control_dir / "armed").unlink(missing_ok=True)
        if drop_held and self.holding:
            (self.control_dir / "drop").touch()
            return
        (self.control_dir / "held").unlink(missing_ok=True)
        (self.control_dir / "drop").unlink(missing_ok=True)


class SshServer:
    """One sshd on 127.0.0.1 that accepts ``user`` with ``client_key`` only.

    ``start`` may be called again after ``stop``/``kill`` (same port, same
    keys), which is how tests model a server that crashed and came back.
    Only the first start moves to another port when its own was taken.
    With ``gated=True`` SFTP goes through an :class:`SftpGate` (``gate``).
    """

    def __init__(self, workdir: Path, sshd: str, *, gated: bool = False) -> None:
        self.workdir = workdir
        self.sshd = sshd
        self.gate: SftpGate | None = SftpGate(workdir / "sftp-gate") if gated else None
        self.host = "127.0.0.1"
        self.port = free_port()
        # The account this process runs as (root in CI), not $USER, which may lie.
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.client_key = workdir / "client_ed25519"
        self.log_path = workdir / "sshd.log"
        self._config = workdir / "sshd_config"
        self._process: subprocess.Popen[bytes] | None = None
        self._started = False
        workdir.mkdir(parents=True, exist_ok=True)
        self._write_keys()
        self._write_config()

    @property
    def _host_key(self) -> Path:
        return self.workdir / "host_ed25519"

    def _write_keys(self) -> None:
        for key in (self._host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dvc-remote-test", "-f", str(key)],
                check=True,
                capture_output=True,
            )
        authorized = self.workdir / "authorized_keys"
        shutil.copyfile(self.client_key.with_suffix(".pub"), authorized)
        authorized.chmod(0o600)

    def _write_config(self) -> None:
        self._config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.host}",
                    f"Port {self.port}",
                    f"HostKey {self._host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
                    f"AllowUsers {self.user}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    # Tests run as root in CI; only this test key can log in.
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    # The temporary folder's permissions are not sshd's business.
                    "StrictModes no",
                    f"Subsystem sftp {self._sftp_subsystem()}",
                    # An external subsystem runs through the login shell, and bash
                    # sources ~/.bashrc for ssh commands unless SHLVL says it is nested (pyenv's init
                    # there can stall for a minute on a lock a killed shell left).
                    "SetEnv SHLVL=1",
                    # DVC opens several SFTP channels per connection (sshfs: up to 10).
                    "MaxSessions 32",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    def _sftp_subsystem(self) -> str:
        if self.gate is None:
            return "internal-sftp"
        sftp_server = find_sftp_server()
        if sftp_server is None:
            raise RuntimeError(f"a gated server needs OpenSSH's sftp-server; looked in {_SFTP_SERVER_LOCATIONS}")
        return self.gate.subsystem(sftp_server)

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

    def _log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def start(self) -> None:
        """Start sshd and wait until it listens on its port and answers with an SSH banner.

        The first start draws another port while its own turns out taken (by
        another test worker's server, say); a restart keeps its port, which
        its clients already know.
        """
        if self.pid is not None:
            raise RuntimeError(f"sshd is already running (pid {self.pid})")
        if os.geteuid() == 0:
            _PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        attempts = 1 if self._started else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if self._launch():
                self._started = True
                return
            if attempt < attempts:
                self.port = free_port()
                self._write_config()
        raise RuntimeError(f"sshd found its port taken {attempts} time(s), lastly {self.host}:{self.port}:\n{self.log()}")

    def _launch(self) -> bool:
        """Run sshd and wait until it listens: True, or False when its port was taken."""
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
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
                if "Address already in use" in self._log_since(log_start):
                    self._process = None
                    return False
                raise RuntimeError(f"sshd exited with {self._process.returncode} at start-up:\n{self.log()}")
            # The log line proves that this sshd holds the port; the banner, that it serves.
            if f"Server listening on {self.host} port {self.port}." in self._log_since(log_start) and self._answers_ssh():
                return True
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on {self.host}:{self.port} within {_START_TIMEOUT_S} s:\n{self.log()}")

    def _answers_ssh(self) -> bool:
        """True when the port accepts a connection and greets with an SSH banner."""
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
def running_sshd(workdir: Path, sshd: str, *, gated: bool = False) -> Iterator[SshServer]:
    """A started :class:`SshServer` in ``workdir``, always stopped on exit."""
    server = SshServer(workdir, sshd, gated=gated)
    try:
        server.start()
        yield server
    finally:
        server.stop()
