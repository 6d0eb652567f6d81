"""Seeds derived from names: the same in every process, distinct per name."""

from __future__ import annotations

import subprocess
import sys

from textile_defects.utils.seeding import derive_seed, rng_for


def test_derived_seeds_are_stable_across_processes_and_distinct_per_name() -> None:
    here = derive_seed(101, "hole-hole_000", 3)
    there = subprocess.run(
        [sys.executable, "-c", "from textile_defects.utils.seeding import derive_seed; print(derive_seed(101, 'hole-hole_000', 3))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert str(here) == there
    seeds = {derive_seed(101, "hole-hole_000", k) for k in range(1000)}
    assert len(seeds) == 1000
    assert derive_seed(1, "ab", "c") != derive_seed(1, "a", "bc"), "parts are separated, not concatenated"
    assert rng_for(1, "x").integers(1 << 30) == rng_for(1, "x").integers(1 << 30)
