"""The data stages give the same bytes whatever the CPU's vector (SIMD) level.

NumPy, OpenCV, OpenBLAS and libjpeg-turbo pick code paths by CPU features
at run time, and their float results may differ in the last bit. The probe
(``tests/data_hashes.py``: sample images at two sizes, augmented copies
with every operation, both interpolations) runs in a fresh interpreter as
this CPU allows and again with every optional vector feature switched off
(NumPy's dispatch targets, OpenCV's optimised paths and IPP, OpenBLAS's
newer kernels, libjpeg-turbo's SIMD). Both must give the bytes recorded in
``tests/data_hashes.json``, so a machine whose arithmetic differs fails
here, naming the files, before it disagrees with ``dvc.lock``.

Before the fix (commit 8e9d784), narrowing changed the full-size sample
images of every defect class (float32 ``np.sin``/``np.cos``/``np.exp``
differ between NumPy's AVX2 and baseline loops in 15 to 40% of values) and
every rotated copy (``cv2.warpAffine``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_hashes import (
    RECORD,
    differences,
    load_record,
    lock_hashes,
    narrowed_simd_env,
    run_probe,
)
from textile_defects.utils import stable_math

REFRESH = "python tests/data_hashes.py"


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, str]]:
    """The probe's file hashes: ``(as this CPU allows, vector features narrowed)``."""
    root = tmp_path_factory.mktemp("probe")
    return run_probe(root / "default", narrowed=False), run_probe(root / "narrowed", narrowed=True)


def test_narrowing_switches_numpy_and_opencv_to_their_baseline_code() -> None:
    """Otherwise the comparison below would compare a run with itself."""
    script = (
        "import json, cv2, numpy\n"
        "from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__\n"
        "cv2.setUseOptimized(False)\n"
        "print(json.dumps({'numpy': [f for f in __cpu_dispatch__ if __cpu_features__[f]],"
        " 'opencv': cv2.useOptimized()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=narrowed_simd_env(), capture_output=True, text=True, check=True
    )
    active = json.loads(result.stdout)
    assert active == {"numpy": [], "opencv": False}


def test_probe_is_byte_identical_with_vector_features_narrowed(probes) -> None:
    default, narrowed = probes
    assert len(default) > 50
    problems = differences(default, narrowed)
    assert not problems, "narrowed run vs default run:\n" + "\n".join(problems)


def test_probe_matches_the_committed_record(probes) -> None:
    default, _ = probes
    problems = differences(load_record()["probe"], default)
    assert not problems, (
        f"The data-stage probe on this machine differs from {RECORD.name}:\n" + "\n".join(problems) + "\n"
        "If the sample or augment code (or the probe) changed on purpose, record the new bytes with "
        f"`{REFRESH} refresh-probe`. Otherwise this machine computes the data stages differently "
        "(another CPU, library or OS), and its `dvc repro` will not reproduce dvc.lock."
    )


def test_recorded_pipeline_hashes_match_dvc_lock() -> None:
    problems = differences(load_record()["pipeline"], lock_hashes())
    assert not problems, (
        f"dvc.lock's data-stage outputs differ from {RECORD.name}:\n" + "\n".join(problems) + "\n"
        f"After a deliberate change and `dvc repro`, record them with `{REFRESH} refresh-pipeline`; "
        "after a `dvc repro` of unchanged code and params, this machine does not reproduce the committed data."
    )


# ---- the functions the fix rests on ----


def test_stable_functions_agree_with_numpy_to_the_last_bits() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-1000.0, 1000.0, 100_000)
    sin, cos = stable_math.sin_cos(angles)
    assert np.max(np.abs(sin - np.sin(angles))) < 4e-16
    assert np.max(np.abs(cos - np.cos(angles))) < 4e-16
    exponents = rng.uniform(-700.0, 700.0, 100_000)
    assert np.max(np.abs(stable_math.exp(exponents) / np.exp(exponents) - 1.0)) < 4e-16
    y, x = rng.normal(size=(2, 100_000))
    assert np.max(np.abs(stable_math.atan2(y, x) - np.arctan2(y, x))) < 1e-15
    a, b = rng.normal(size=(2, 3, 3))
    np.testing.assert_allclose(stable_math.matmul(a, b), a @ b, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(stable_math.matmul(a, b[0]), a @ b[0], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(("y", "x"), [(0.0, 0.0), (1.0, 0.0), (-1.0, 0.0), (0.0, -1.0), (-0.0, -1.0), (1.0, 1.0)])
def test_atan2_quadrants_and_axes_are_those_of_math_atan2(y: float, x: float) -> None:
    assert float(stable_math.atan2(y, x)) == pytest.approx(math.atan2(y, x), abs=1e-16)


def test_stable_functions_are_exact_where_they_must_be() -> None:
    assert float(stable_math.exp(0.0)) == 1.0
    assert float(stable_math.sin(0.0)) == 0.0 and float(stable_math.cos(0.0)) == 1.0
    assert float(stable_math.exp(-1e9)) == pytest.approx(math.exp(-700.0))  # clipped, not an underflow error
    # Far beyond the accurate range (masked-out pixels pass such values): finite and bounded.
    huge = stable_math.sin(np.array([1e7, -3e12, 1e300]))
    assert np.all(np.abs(huge) <= 1.0)


def test_record_holds_both_parts() -> None:
    record = json.loads(Path(RECORD).read_text(encoding="utf-8"))
    assert set(record) == {"probe", "pipeline"}
    assert any(name.startswith("full/images/") for name in record["probe"])
    assert "data/sample/images" in record["pipeline"] and "data/augmented/train" in record["pipeline"]
