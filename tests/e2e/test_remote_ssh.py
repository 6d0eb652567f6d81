"""Team sharing through a real SSH remote: push, pull, reproduce nothing, survive faults.

Every test talks to a throwaway OpenSSH server on 127.0.0.1 (``tests/helpers/sshd.py``)
through DVC's own SSH client (dvc-ssh), exactly as a teammate would:

- clone A runs the tiny pipeline and pushes data, models and run cache; a
  fresh ``git clone`` pulls, finds nothing to recompute and gets byte-identical
  files; a clone of a commit without dvc.lock gets the models from the run
  cache alone;
- on a small data project with many files: a push cut off by a server crash,
  a killed client or Ctrl-C leaves the remote usable, a corrupted object is
  refused on pull, a missing one is named, and an experiment travels by
  ``dvc exp push`` / ``dvc exp pull``.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers.repo import copy_of_repo, run, tool_env
from tests.helpers import sshd as sshd_helpers
from tests.helpers.sshd import SshServer, find_sftp_server, find_sshd, free_port, running_sshd


# Files in the fault-injection project: enough that a cut push leaves most of them to go.
MANY_FILES = 200
FILE_SIZE_BYTES = 16 * 1024
# Objects in place in the remote when the gate holds the push to be interrupted.
OBJECTS_BEFORE_INTERRUPT = 3
# How long a push may take to reach the gate, and a cut client to exit.
PUSH_DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def sshd_executable() -> str:
    """Absolute path of sshd; the module is skipped where OpenSSH's server is not installed."""
    sshd = find_sshd()
    if sshd is None:
        pytest.skip(
            "sshd not found (Debian package openssh-server); `bash scripts/setup.sh --test` installs it as root"
        )
    return sshd


@pytest.fixture
def ssh_server(tmp_path: Path, sshd_executable: str) -> Iterator[SshServer]:
    """A fresh server for one test, stopped by its pid afterwards even if the test fails."""
    with running_sshd(tmp_path / "sshd", sshd_executable) as server:
        yield server


@pytest.fixture
def gated_ssh_server(tmp_path: Path, sshd_executable: str) -> Iterator[SshServer]:
    """A fresh server whose SFTP goes through a gate that tests arm to hold a push still."""
    if find_sftp_server() is None:
        pytest.skip("OpenSSH's sftp-server not found (Debian package openssh-sftp-server)")
    with running_sshd(tmp_path / "sshd", sshd_executable, gated=True) as server:
        yield server


# --- helpers -----------------------------------------------------------------


def use_ssh_remote(repo: Path, server: SshServer, remote_dir: Path) -> None:
    """Make ``ssh`` the default remote of ``repo`` for this clone only (``.dvc/config.local``).

    Written as the file ``dvc remote add --local``/``modify --local`` would
    write, because every dvc call costs seconds of start-up. ``verify`` makes
    pulls re-hash what they download (docs/sharing.md says why).
    """
    (repo / ".dvc" / "config.local").write_text(
        "[core]\n    remote = ssh\n"
        "['remote \"ssh\"']\n"
        f"    url = {server.url(remote_dir)}\n"
        f"    keyfile = {server.client_key}\n"
        "    verify = true\n"
    )


def share_through_ssh_remote(repo: Path, server: SshServer, remote_dir: Path) -> None:
    """The team's set-up: the remote in the committed ``.dvc/config``, the key per clone."""
    run(["dvc", "remote", "add", "-d", "ssh", server.url(remote_dir)], repo)
    run(["dvc", "remote", "modify", "ssh", "verify", "true"], repo)
    # make_tiny_repo sets a scratch default in config.local, which outranks .dvc/config.
    run(["dvc", "remote", "default", "--local", "ssh"], repo)
    run(["dvc", "remote", "modify", "--local", "ssh", "keyfile", str(server.client_key)], repo)


def clone(source: Path, dest: Path, server: SshServer) -> Path:
    """A fresh ``git clone`` of ``source`` with this machine's key for the team's SSH remote."""
    run(["git", "clone", "-q", str(source), str(dest)], dest.parent)
    (dest / ".dvc" / "config.local").write_text(f"['remote \"ssh\"']\n    keyfile = {server.client_key}\n")
    return dest


def lock_outputs(repo: Path) -> list[str]:
    """Every output path recorded in ``repo``'s dvc.lock."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return sorted(out["path"] for stage in lock["stages"].values() for out in stage.get("outs", []))


def file_digests(repo: Path, outputs: list[str]) -> dict[str, str]:
    """sha256 of every file under ``outputs`` (files or folders), keyed by repo-relative path."""
    digests: dict[str, str] = {}
    for output in outputs:
        root = repo / output
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digests[path.relative_to(repo).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def mtimes(repo: Path, paths: list[str]) -> dict[str, int]:
    """Modification time (ns) of each repo-relative path."""
    return {name: (repo / name).stat().st_mtime_ns for name in paths}


def remote_objects(remote_dir: Path) -> list[Path]:
    """Content-addressed objects in a DVC 3 remote (``files/md5/ab/cdef...``).

    Dot-files there are upload temporaries (dvc-ssh writes ``.<random>.tmp``
    and renames it into place), never served as objects.
    """
    return sorted(p for p in (remote_dir / "files" / "md5").glob("??/*") if not p.name.startswith("."))


def objects_not_matching_their_name(remote_dir: Path) -> list[str]:
    """Objects whose bytes do not hash to the md5 their path names (corrupt or partial)."""
    bad = []
    for path in remote_objects(remote_dir):
        expected = path.parent.name + path.name.removesuffix(".dir")
        if hashlib.md5(path.read_bytes()).hexdigest() != expected:
            bad.append(path.relative_to(remote_dir).as_posix())
    return bad


def object_path(remote_dir: Path, content: bytes) -> Path:
    """Where a DVC 3 remote stores a file with these bytes."""
    digest = hashlib.md5(content).hexdigest()
    return remote_dir / "files" / "md5" / digest[:2] / digest[2:]


# --- the test server -----------------------------------------------------------


def test_a_server_whose_port_was_taken_in_between_starts_on_another(
    tmp_path: Path, sshd_executable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two test workers can draw the same free port before either server binds it."""
    with running_sshd(tmp_path / "first", sshd_executable) as first:
        draws = iter([first.port])
        monkeypatch.setattr(sshd_helpers, "free_port", lambda: next(draws, None) or free_port())
        with running_sshd(tmp_path / "second", sshd_executable) as second:
            assert second.port != first.port
            assert f"Server listening on 127.0.0.1 port {second.port}." in second.log()


# --- the pipeline, shared through the server ---------------------------------


@pytest.fixture(scope="module")
def pushed_pipeline(
    reproduced_tiny_repo: Path, tmp_path_factory: pytest.TempPathFactory, sshd_executable: str
) -> Iterator[tuple[Path, SshServer]]:
    """Clone A: the tiny pipeline reproduced, committed, pushed with its run cache."""
    workdir = tmp_path_factory.mktemp("ssh-pipeline")
    with running_sshd(workdir / "sshd", sshd_executable) as server:
        repo_a = copy_of_repo(reproduced_tiny_repo, workdir / "a")
        share_through_ssh_remote(repo_a, server, workdir / "remote")
        run(["git", "commit", "-q", "-am", "share through the ssh remote"], repo_a)
        run(["dvc", "push", "--run-cache"], repo_a)
        yield repo_a, server


def test_fresh_clone_pulls_everything_and_recomputes_nothing(
    pushed_pipeline: tuple[Path, SshServer], tmp_path: Path
) -> None:
    repo_a, server = pushed_pipeline
    repo_b = clone(repo_a, tmp_path / "b", server)

    run(["dvc", "pull"], repo_b)

    outputs = lock_outputs(repo_a)
    assert file_digests(repo_b, outputs) == file_digests(repo_a, outputs)
    status = run(["dvc", "status"], repo_b)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout
    before = mtimes(repo_b, list(file_digests(repo_b, outputs)))
    repro = run(["dvc", "repro"], repo_b)
    assert "Running stage" not in repro.stdout, repro.stdout
    stages = yaml.safe_load((repo_b / "dvc.lock").read_text())["stages"]
    for stage in stages:
        assert f"Stage '{stage}' didn't change, skipping" in repro.stdout, repro.stdout
    assert mtimes(repo_b, list(before)) == before
    assert run(["git", "status", "--porcelain"], repo_b).stdout == ""


def test_run_cache_rebuilds_a_checkout_without_dvc_lock(
    pushed_pipeline: tuple[Path, SshServer], tmp_path: Path
) -> None:
    """A clone of the commit before dvc.lock existed gets data and models from the run cache alone."""
    repo_a, server = pushed_pipeline
    repo_c = tmp_path / "c"
    run(["git", "clone", "-q", "--branch", "before-repro", str(repo_a), str(repo_c)], tmp_path)
    # That commit predates the team's ssh remote: name it in this clone only.
    use_ssh_remote(repo_c, server, repo_a.parent / "remote")

    # All but evaluate: it writes its metrics with `cache: false`, which
    # `dvc push --run-cache` does not upload, so DVC would rerun that stage.
    repro = run(["dvc", "repro", "--pull", "train_baseline", "train_post_baseline", "train_gate", "export_engine", "train_type", "augment_test"], repo_c)

    assert "Running stage" not in repro.stdout, repro.stdout
    restored = sorted(yaml.safe_load((repo_c / "dvc.lock").read_text())["stages"])
    assert restored == sorted(set(yaml.safe_load((repo_a / "dvc.lock").read_text())["stages"]) - {"evaluate"})
    for stage in restored:
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in repro.stdout, repro.stdout
    outputs = lock_outputs(repo_c)
    assert file_digests(repo_c, outputs) == file_digests(repo_a, outputs)


# --- faults, on a small project with many files -------------------------------


@pytest.fixture(scope="module")
def data_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC project tracking MANY_FILES random files and one stage that reads a param."""
    repo = tmp_path_factory.mktemp("ssh-faults") / "origin"
    repo.mkdir()
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["dvc", "init", "-q"], repo)
    rng = random.Random(20240611)
    (repo / "shards").mkdir()
    for index in range(MANY_FILES):
        (repo / "shards" / f"{index:04d}.bin").write_bytes(rng.randbytes(FILE_SIZE_BYTES))
    run(["dvc", "add", "shards"], repo)
    (repo / "params.yaml").write_text("scale: 2\n")
    run(
        [
            "dvc", "stage", "add", "-n", "scaled", "-p", "scale", "-o", "scaled.txt",
            "python -c \"import yaml; s = yaml.safe_load(open('params.yaml'))['scale']; "
            "open('scaled.txt', 'w').write(str(21 * s))\"",
        ],
        repo,
    )
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "many shards"], repo)
    return repo


def fresh_clone_with_remote(origin: Path, server: SshServer, remote_dir: Path, dest: Path) -> Path:
    """A fresh ``git clone`` of ``origin`` whose default remote is ``remote_dir`` on ``server``."""
    run(["git", "clone", "-q", str(origin), str(dest)], dest.parent)
    use_ssh_remote(dest, server, remote_dir)
    return dest


def pusher_clone(origin: Path, server: SshServer, remote_dir: Path, dest: Path) -> Path:
    """A clone that holds the data (it reads the origin's cache), ready to push to ``remote_dir``."""
    repo = fresh_clone_with_remote(origin, server, remote_dir, dest)
    with (repo / ".dvc" / "config.local").open("a") as config:
        config.write(f"[cache]\n    dir = {origin / '.dvc' / 'cache'}\n")
    return repo


@pytest.fixture(scope="module")
def pushed_remote(data_repo: Path, sshd_executable: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A remote folder holding everything ``data_repo`` tracks; tests damage copies of it."""
    workdir = tmp_path_factory.mktemp("ssh-pushed")
    remote_dir = workdir / "remote"
    with running_sshd(workdir / "sshd", sshd_executable) as server:
        run(["dvc", "push"], pusher_clone(data_repo, server, remote_dir, workdir / "pusher"))
    return remote_dir


def copy_of(remote_dir: Path, dest: Path) -> Path:
    """A private copy of a remote folder (the server serves any local path)."""
    shutil.copytree(remote_dir, dest)
    return dest


def copy_with_object_of(pushed_remote: Path, tracked_file: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the remote and, in it, the object holding ``tracked_file``'s content."""
    remote_dir = copy_of(pushed_remote, tmp_path / "remote")
    return remote_dir, object_path(remote_dir, tracked_file.read_bytes())


# A shell without job control starts background commands (`pytest ... &`, many CI
# runners) with SIGINT ignored, and Python then never raises KeyboardInterrupt:
# the Ctrl-C case would see the push run to the end. Ctrl-C in a terminal reaches
# a foreground program with the default disposition; this launcher restores it
# and execs the command in the same process.
WITH_DEFAULT_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])",
]


def wait_for(condition: Callable[[], bool], failure: str, timeout_s: float = PUSH_DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.01)


def crash_server(push: subprocess.Popen[str], server: SshServer, stderr: Path) -> None:
    """SIGKILL sshd with every connection: what the gate held dies with it."""
    server.kill()


def kill_client(push: subprocess.Popen[str], server: SshServer, stderr: Path) -> None:
    """SIGKILL the client; the requests it had not yet got through never arrive."""
    push.send_signal(signal.SIGKILL)
    push.wait(timeout=PUSH_DEADLINE_S)
    assert server.gate is not None
    server.gate.release(drop_held=True)


def press_ctrl_c(push: subprocess.Popen[str], server: SshServer, stderr: Path) -> None:
    """SIGINT the client and, once it has answered, let it wind down (it waits for its open transfers)."""
    push.send_signal(signal.SIGINT)
    wait_for(
        lambda: push.poll() is not None or "interrupted by the user" in stderr.read_text(),
        f"dvc push did not answer Ctrl-C:\n{stderr.read_text()}",
    )
    assert server.gate is not None
    server.gate.release()


def interrupt_push(
    repo: Path, remote_dir: Path, server: SshServer, cut: Callable[..., None], logs: Path
) -> subprocess.CompletedProcess[str]:
    """Start ``dvc push``, hold the server once a few objects are in place, ``cut`` it there; its result.

    The cut used to follow a poll of the remote folder, so on a busy machine
    the push could finish first ("202 files pushed"). Now the server's gate
    holds every request from the first file opened once
    OBJECTS_BEFORE_INTERRUPT objects are in place: that file exists, empty,
    its data waiting behind the gate, and the push can neither finish nor go
    on until the cut is done.
    """
    assert server.gate is not None, "interrupted pushes need a gated server"
    server.gate.arm(remote_dir / "files" / "md5", "??/[!.]*", OBJECTS_BEFORE_INTERRUPT)
    stdout, stderr = logs / "push.stdout", logs / "push.stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        push = subprocess.Popen(
            [*WITH_DEFAULT_SIGINT, "dvc", "push"], cwd=repo, env=tool_env(), stdout=out, stderr=err, text=True
        )
    try:
        wait_for(lambda: server.gate.holding or push.poll() is not None, "push did not reach the gate in time")
        assert push.poll() is None, f"push ended before the gate held it:\n{stdout.read_text()}{stderr.read_text()}"
        cut(push, server, stderr)
        push.wait(timeout=PUSH_DEADLINE_S)
    finally:
        if push.poll() is None:
            push.kill()
            push.wait()
    return subprocess.CompletedProcess(push.args, push.returncode, stdout.read_text(), stderr.read_text())


@pytest.mark.parametrize(
    "cut",
    [crash_server, kill_client, press_ctrl_c],
    ids=["server crashes", "client killed", "client interrupted (Ctrl-C)"],
)
def test_interrupted_push_leaves_the_remote_usable(
    cut: Callable[..., None], data_repo: Path, gated_ssh_server: SshServer, tmp_path: Path
) -> None:
    """The remote after a cut push holds only whole objects, and a second push completes it.

    Why this fails where the remote could be left corrupt: at the cut one
    file has been created and none of its data written. dvc-ssh creates it
    under a temporary dot-name and renames it into place when complete; an
    upload that wrote objects straight to their final names would leave an
    empty or partial file under an object's name, which
    ``objects_not_matching_their_name`` lists. Checked by making dvc-ssh's
    ``_put_file`` write to the final name (sshfs's own ``_put_file``): all
    three cases then fail on that assertion.
    """
    server = gated_ssh_server
    remote_dir = tmp_path / "remote"
    repo = pusher_clone(data_repo, server, remote_dir, tmp_path / "pusher")

    cut_push = interrupt_push(repo, remote_dir, server, cut, tmp_path)

    assert cut_push.returncode != 0, f"push was not interrupted:\n{cut_push.stdout}\n{cut_push.stderr}"
    server.wait_until_idle()
    assert server.gate is not None
    server.gate.release()
    landed = remote_objects(remote_dir)
    assert OBJECTS_BEFORE_INTERRUPT <= len(landed) < MANY_FILES, f"{len(landed)} objects landed"
    assert objects_not_matching_their_name(remote_dir) == []
    if server.pid is None:
        server.start()
    resumed = run(["dvc", "push"], repo)
    assert f"{MANY_FILES + 2 - len(landed)} files pushed" in resumed.stdout, resumed.stdout

    assert objects_not_matching_their_name(remote_dir) == []
    puller = fresh_clone_with_remote(data_repo, server, remote_dir, tmp_path / "puller")
    run(["dvc", "pull"], puller)
    assert "in sync" in run(["dvc", "status", "-c"], puller).stdout
    assert file_digests(puller, ["shards", "scaled.txt"]) == file_digests(data_repo, ["shards", "scaled.txt"])


def test_corrupted_object_is_refused_on_pull(
    data_repo: Path, pushed_remote: Path, ssh_server: SshServer, tmp_path: Path
) -> None:
    remote_dir, damaged = copy_with_object_of(pushed_remote, data_repo / "shards" / "0007.bin", tmp_path)
    flipped = bytearray(damaged.read_bytes())
    flipped[100] ^= 0xFF  # same size, so only re-hashing can notice
    damaged.write_bytes(bytes(flipped))

    puller = fresh_clone_with_remote(data_repo, ssh_server, remote_dir, tmp_path / "puller")
    pulled = run(["dvc", "pull"], puller, check=False)

    assert pulled.returncode != 0
    assert "Checkout failed for following targets:\nshards" in pulled.stderr, pulled.stderr
    assert not (puller / "shards").exists()
    # The bad copy was dropped, not kept in the cache to be served later.
    cached = puller / ".dvc" / "cache" / "files" / "md5"
    assert objects_not_matching_their_name(puller / ".dvc" / "cache") == []
    assert not (cached / damaged.parent.name / damaged.name).exists()
    # What was intact arrived intact.
    assert (puller / "scaled.txt").read_bytes() == (data_repo / "scaled.txt").read_bytes()


def test_pull_names_what_the_remote_lacks(
    data_repo: Path, pushed_remote: Path, ssh_server: SshServer, tmp_path: Path
) -> None:
    remote_dir, lost = copy_with_object_of(pushed_remote, data_repo / "shards" / "0042.bin", tmp_path)
    lost.unlink()

    puller = fresh_clone_with_remote(data_repo, ssh_server, remote_dir, tmp_path / "puller")
    pulled = run(["dvc", "pull"], puller, check=False)

    assert pulled.returncode != 0
    assert f"failed to transfer '{lost.parent.name}{lost.name}'" in pulled.stderr, pulled.stderr
    # status -c translates the hash into the path a teammate recognises.
    status = run(["dvc", "status", "-c"], puller)
    assert re.findall(r"deleted:\s+(\S+)", status.stdout) == ["shards/0042.bin"], status.stdout


def test_experiment_travels_by_exp_push_and_exp_pull(
    data_repo: Path, pushed_remote: Path, ssh_server: SshServer, tmp_path: Path
) -> None:
    remote_dir = copy_of(pushed_remote, tmp_path / "remote")
    teammate = fresh_clone_with_remote(data_repo, ssh_server, remote_dir, tmp_path / "teammate")
    run(["dvc", "exp", "run", "-n", "triple", "-S", "scale=3"], teammate)
    run(["dvc", "exp", "push", "origin", "triple"], teammate)

    reviewer = fresh_clone_with_remote(data_repo, ssh_server, remote_dir, tmp_path / "reviewer")
    run(["dvc", "exp", "pull", "origin", "triple"], reviewer)
    run(["dvc", "exp", "apply", "triple"], reviewer)

    assert (reviewer / "scaled.txt").read_text() == "63"
    assert yaml.safe_load((reviewer / "params.yaml").read_text())["scale"] == 3
    status = run(["dvc", "status"], reviewer)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout
