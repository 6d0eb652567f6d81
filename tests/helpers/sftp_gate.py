"""An SFTP subsystem that can hold every request still at a chosen moment of an upload.

sshd runs ``python sftp_gate.py CONTROL_DIR SFTP_SERVER [ARGS...]`` once per
SFTP channel (``tests/helpers/sshd.py``, ``SshServer(gated=True)``). It starts the
real ``sftp-server`` and passes the client's requests on one SFTP packet at a
time; replies go from ``sftp-server`` straight back to the client. Files in
CONTROL_DIR, shared by every channel, steer it:

``armed``  (JSON ``{"directory", "pattern", "count"}``): the first request that
    opens a file for writing once ``count`` files matching ``pattern`` exist
    under ``directory`` creates ``held``, and is itself still passed on;
``held``   while it exists, no channel passes on another request;
``drop``   a held channel passes nothing more: it closes ``sftp-server``'s
    input and exits, as if the client had died before sending the rest
    (it does the same when its sshd session process is gone).

So a push can be cut at a point fixed by what reached the server (some
objects in place, one more file just created and still empty) rather than
by a delay, whatever the machine's load. Standard library only: sshd starts
it with a bare environment.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

SSH_FXP_OPEN = 3
SSH_FXF_WRITE = 0x00000002
_POLL_S = 0.01


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes, or None at a clean end of input (a torn packet counts as the end too)."""
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_packet(stream: BinaryIO) -> bytes | None:
    """One SFTP packet, length prefix included (RFC draft-ietf-secsh-filexfer-02, section 3)."""
    header = read_exactly(stream, 4)
    if header is None:
        return None
    body = read_exactly(stream, struct.unpack(">I", header)[0])
    return None if body is None else header + body


def opens_for_writing(packet: bytes) -> bool:
    """True for SSH_FXP_OPEN with the WRITE flag: uint32 length, byte type, uint32 id, string name, uint32 pflags."""
    if len(packet) < 13 or packet[4] != SSH_FXP_OPEN:
        return False
    name_length = struct.unpack(">I", packet[9:13])[0]
    flags_at = 13 + name_length
    if len(packet) < flags_at + 4:
        return False
    return bool(struct.unpack(">I", packet[flags_at : flags_at + 4])[0] & SSH_FXF_WRITE)


def should_hold(control: Path) -> bool:
    """Whether the armed condition is met: enough files are in place for the cut."""
    try:
        armed = json.loads((control / "armed").read_text())
    except FileNotFoundError:
        return False
    return len(list(Path(armed["directory"]).glob(armed["pattern"]))) >= armed["count"]


def main(argv: list[str]) -> int:
    control = Path(argv[1])
    session = os.getppid()
    server = subprocess.Popen(argv[2:], stdin=subprocess.PIPE)
    assert server.stdin is not None
    requests = sys.stdin.buffer
    while (packet := read_packet(requests)) is not None:
        while (control / "held").exists():
            # Dropped, or sshd's session process is gone (a test that died while holding).
            if (control / "drop").exists() or os.getppid() != session:
                server.stdin.close()
                return server.wait()
            time.sleep(_POLL_S)
        if opens_for_writing(packet) and should_hold(control):
            # Held before this request is passed on: it still creates its file,
            # but that file's data stays behind the gate.
            (control / "held").touch()
        server.stdin.write(packet)
        server.stdin.flush()
    server.stdin.close()
    return server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
