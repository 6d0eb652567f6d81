"""The malloc setting that stops CPU training from page-faulting every batch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.repo import REPO_ROOT

PROBE = """
import resource, sys, torch
from textile_defects.runtime.allocator import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "on" else False
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    block = torch.ones(64 * 2**20 // 4)  # 64 MB: above glibc's largest mmap threshold
    del block
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(took, faults)
"""


def _faults(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=env)
    took, faults = result.stdout.split()
    return took, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    took, kept = _faults("on")
    _, default = _faults("off")
    assert took == "True"
    # 20 fresh 64 MB blocks fault in ~16,000 pages each by default; kept memory is mostly reused.
    assert default > 10 * 16_000
    assert kept < default / 2, (kept, default)  # measured: ~1/3


def test_it_can_be_switched_off() -> None:
    import os

    took, _ = _faults("on", env={**os.environ, "TEXTILE_KEEP_FREED_MEMORY": "0"})
    assert took == "False"
