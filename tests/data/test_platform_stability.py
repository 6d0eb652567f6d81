"""The data stages give the same bytes whatever the CPU's vector (SIMD) level.

NumPy, OpenCV, OpenBLAS and libjpeg-turbo pick code paths by CPU features
at run time, and their float results may differ in the last bit. The probe
(``tests/helpers/data_hashes.py``: sample images at two sizes, augmented copies
with every operation, both interpolations) runs in a fresh interpreter as
this CPU allows and again with every optional vector feature switched off
(NumPy's dispatch targets, OpenCV's optimised paths and IPP, OpenBLAS's
newer kernels, libjpeg-turbo's SIMD). Both must give the bytes recorded in
``tests/fixtures/data_hashes.json``, so a machine whose arithmetic differs fails
here, naming the files, before it disagrees with ``dvc.lock``.

Before the fix (commit 8e9d784), narrowing changed the full-size sample
images of every defect class (float32 ``np.sin``/``np.cos``/``np.exp``
differ between NumPy's AVX2 and baseline loops in 15 to 40% of values) and
every rotated copy (``cv2.warpAffine``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers.data_hashes import COMMAND, RECORD, differences, load_record, narrowed_simd_env, run_probe


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
        f"`{COMMAND} refresh-probe`. Otherwise this machine computes the data stages differently "
        "(another CPU, library or OS), and its `dvc repro` will not reproduce dvc.lock."
    )
