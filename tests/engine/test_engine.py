"""The inference engine: exported files that agree with PyTorch, refused when stale or foreign, used by predict."""

from __future__ import annotations

import csv
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from textile_defects.data.frames import DEFAULT_MIN_FRAME_SIZE
from textile_defects.engine.bundle import read_bundle, write_bundle
from textile_defects.engine.export import export_classifier, export_gate
from textile_defects.engine.files import PROBABILITY_TOLERANCE, SCORE_TOLERANCE, engine_path, sha256_file
from textile_defects.engine.scoring import engine_gate_scores
from textile_defects.engine.session import EngineClassifier, EngineGate
from textile_defects.errors import ConfigError, DataError, OutputError
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.checkpoint import save_type_model
from textile_defects.naming.classify import fit_on_images
from textile_defects.naming.evidence import extractor_for
from textile_defects.predict import main, predict

from tests.helpers.evaluation import CLASSES, tiny_checkpoint, write_images
from tests.helpers.gate import knit_texture, tiny_gate_and_photos, write_png
from tests.helpers.repo import REPO_ROOT, TINY_PARAMS
from tests.helpers.venv import clean_venv

TINY_MIN = (TINY_PARAMS["ingest"]["min_width"], TINY_PARAMS["ingest"]["min_height"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A tiny classifier and gate in ``models/`` with their engine files beside them, and a folder of photos."""
    root = tmp_path_factory.mktemp("engine")
    models = root / "models"
    models.mkdir()
    gate_built, gate_photos = tiny_gate_and_photos(root / "gate")
    gate = Path(shutil.copy(gate_built, models / "gate.pt"))
    model = tiny_checkpoint(models / "post_baseline.pt", seed=3)
    export_classifier(model, engine_path(model), min_frame_size=TINY_MIN)
    export_gate(gate, engine_path(gate), min_frame_size=TINY_MIN)
    photos = root / "photos"
    write_images(photos, ["non_defect", "hole", "needle", "twoply"], seed=7, size=(160, 96))
    for index, seed in enumerate((61, 62, 63)):
        texture = knit_texture(seed, 160, 96)
        if index:
            texture[30 + 10 * index : 50 + 10 * index, 60:90] = 255 if index == 1 else 0
        write_png(photos / "fabric" / f"frame_{index}.png", texture)
    for source in gate_photos.iterdir():
        shutil.copy(source, photos / "fabric" / source.name)
    return model, gate, photos


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def run_predict(engine: str, model: Path, photos: Path, out: Path, *extra: str) -> dict[str, dict[str, str]]:
    predict([str(photos), "--model", str(model), "--out", str(out), "--engine", engine, *extra])
    return read_rows(out)


def test_engine_and_pytorch_agree_within_the_tolerances_and_decide_alike(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, gate, photos = exported
    engine = run_predict("onnx", model, photos, tmp_path / "onnx.csv")
    torch_rows = run_predict("torch", model, photos, tmp_path / "torch.csv", "--min-size", "{}x{}".format(*TINY_MIN))
    assert engine.keys() == torch_rows.keys() and len(engine) == 9
    threshold = float(engine[next(iter(engine))]["gate_threshold"])
    for name, row in engine.items():
        other = torch_rows[name]
        p_engine = np.array([float(row[f"p_{c}"]) for c in CLASSES])
        p_torch = np.array([float(other[f"p_{c}"]) for c in CLASSES])
        assert np.abs(p_engine - p_torch).max() <= PROBABILITY_TOLERANCE, name
        assert abs(float(row["anomaly_score"]) - float(other["anomaly_score"])) <= SCORE_TOLERANCE * threshold + 1e-6, name
        for column in ("predicted", "defective", "classifier_predicted"):
            assert row[column] == other[column], (name, column)
    # The photos lie on both sides of the gate's threshold, so "decide alike" means something.
    assert {float(row["anomaly_score"]) > threshold for row in engine.values()} == {True, False}


def test_the_engine_files_say_what_they_were_exported_from(exported: tuple[Path, Path, Path]) -> None:
    model, gate, _ = exported
    classifier = EngineClassifier(engine_path(model))
    assert classifier.classes == CLASSES and classifier.info.good_class == "non_defect"
    assert classifier.info.min_frame_size == TINY_MIN and classifier.info.source_name == "post_baseline.pt"
    assert classifier.info.values["export_check"]["max_abs_probability"] <= PROBABILITY_TOLERANCE
    scorer = EngineGate(engine_path(gate))
    assert scorer.image_size == (160, 96) and scorer.threshold > 0
    scores, maps = scorer.score(np.stack([knit_texture(1, 160, 96)] * 2))
    assert scores.shape == (2,) and scores[0] == scores[1] and maps[0].ndim == 2


def test_predict_uses_the_engine_by_default_and_says_so(exported: tuple[Path, Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model, _, photos = exported
    caplog.set_level(logging.INFO)
    predict([str(photos), "--model", str(model), "--out", str(tmp_path / "p.csv"), "--device", "cpu"])
    assert "engine: ONNX Runtime" in caplog.text and "post_baseline.onnx" in caplog.text and "gate.onnx" in caplog.text
    assert "Loaded checkpoint" not in caplog.text  # torch never loads the checkpoint


def test_without_engine_files_predict_runs_pytorch_and_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_checkpoint(tmp_path / "post_baseline.pt", seed=3)
    photos = write_images(tmp_path / "photos", ["hole"])[0].parent
    caplog.set_level(logging.INFO)
    predict([str(photos), "--model", str(model), "--out", str(tmp_path / "p.csv"), "--min-size", "64x36"])
    assert "running PyTorch: no engine file" in caplog.text and "export_engine" in caplog.text
    with pytest.raises(SystemExit) as exited:
        main([str(photos), "--model", str(model), "--out", str(tmp_path / "q.csv"), "--engine", "onnx"])
    assert exited.value.code == 2


def test_a_stale_engine_file_is_refused_never_used(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, gate, photos = exported
    models = tmp_path / "models"
    shutil.copytree(model.parent, models)
    tiny_checkpoint(models / "post_baseline.pt", seed=4)  # retrained: new weights, the old export beside it
    for engine in ("auto", "onnx"):
        with pytest.raises(DataError, match=r"post_baseline.onnx is stale: it was exported from a post_baseline.pt"):
            predict([str(photos), "--model", str(models / "post_baseline.pt"), "--out", str(tmp_path / "p.csv"), "--engine", engine])
    rows = run_predict("torch", models / "post_baseline.pt", photos, tmp_path / "t.csv", "--min-size", "64x36")
    assert all(row["error"] == "" for row in rows.values())


def test_an_engine_file_of_the_other_model_is_refused(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, gate, _ = exported
    with pytest.raises(DataError, match="an engine file of the 'gate', used here as the classifier"):
        EngineClassifier(engine_path(gate))
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"not an onnx file")
    with pytest.raises(DataError, match="cannot be loaded by ONNX Runtime"):
        EngineGate(foreign)


def test_an_export_that_disagrees_with_pytorch_is_not_written(exported: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _, _ = exported
    monkeypatch.setattr("textile_defects.engine.export.PROBABILITY_TOLERANCE", -1.0)  # no file can pass
    out = tmp_path / "post_baseline.onnx"
    with pytest.raises(OutputError, match="differs from PyTorch"):
        export_classifier(model, out, min_frame_size=TINY_MIN)
    assert list(tmp_path.iterdir()) == []


def test_a_frame_ingest_would_refuse_gets_a_row_with_the_reason(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, _, _ = exported
    photos = tmp_path / "photos"
    write_images(photos, ["ok"], size=(160, 96))
    write_png(photos / "tiny.png", np.zeros((12, 12, 3), np.uint8))
    Image.new("RGB", (160, 96)).save(photos / "animated.jpg", format="GIF")
    (photos / "cut.png").write_bytes((photos / "ok" / "img_00.png").read_bytes()[:2000])
    rows = run_predict("onnx", model, photos, tmp_path / "p.csv")
    assert rows["ok/img_00.png"]["error"] == "" and rows["ok/img_00.png"]["predicted"]
    assert "refused as ingest refuses it (too_small): is 12x12 px, below the minimum 64x36" in rows["tiny.png"]["error"]
    assert "(unsupported_format)" in rows["animated.jpg"]["error"] and rows["animated.jpg"]["predicted"] == ""
    assert "(truncated)" in rows["cut.png"]["error"]


def test_the_default_smallest_frame_is_ingests_default() -> None:
    ingest = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["ingest"]
    assert DEFAULT_MIN_FRAME_SIZE == (ingest["min_width"], ingest["min_height"])


def _type_model_of(gate: Path, folder: Path) -> Path:
    """A type classifier fitted on ``gate``'s maps of a few labelled defect frames (the real cue path, tiny counts)."""
    photos = folder / "defects"
    labels = [name for name in CLASSES if name != "non_defect"]
    write_images(photos, labels, seed=11, size=(160, 96))
    images = [(path, path.parent.name) for path in sorted(photos.rglob("*.png"))]
    gate_model, _ = load_gate(gate)
    extractor = extractor_for(gate_model, ("shape", "profile"), 0.5, "mobilenet_v3", "none")
    return save_type_model(fit_on_images(extractor, images, labels, c=1.0, seed=0), gate, folder / "type.npz")


def test_a_bundle_runs_predict_in_a_clean_environment_without_torch(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, gate, photos = exported
    type_model = _type_model_of(gate, tmp_path)
    bundle = tmp_path / "bundle"
    manifest = write_bundle(bundle, model, gate, type_model=type_model)
    assert manifest["classifier"]["source"]["sha256"] == sha256_file(model) and manifest["gate"]["threshold"] > 0
    assert manifest["type"]["source"]["sha256"] == sha256_file(type_model)
    assert {"classifier.onnx", "gate.onnx", "type.npz", "requirements.txt", "textile_defects/predict/cli.py"} <= set(manifest["files"])
    requirements = [line.split("==")[0] for line in (bundle / "requirements.txt").read_text().splitlines()]
    assert "torch" not in requirements and {"onnxruntime", "scipy"} <= set(requirements)

    python = clean_venv(tmp_path / "line-pc", requirements)
    env = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1", "TQDM_DISABLE": "1"}
    assert subprocess.run([python, "-c", "import torch"], env=env, capture_output=True).returncode != 0
    for naming in ("classifier", "type"):
        out = tmp_path / f"line_{naming}.csv"
        result = subprocess.run(
            [python, "-m", "textile_defects.predict", str(photos), "--bundle", ".", "--naming", naming, "--out", str(out)],
            cwd=bundle, env=env, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stderr
        assert "engine: ONNX Runtime" in result.stderr
        expected = run_predict("onnx", model, photos, tmp_path / f"repo_{naming}.csv", "--naming", naming, "--type", str(type_model))
        assert read_rows(out) == expected  # the same files, the same numbers, every cell
    assert any(row["named_by"] == "type" for row in expected.values()), "the type classifier named a defective frame"


def test_a_type_classifier_of_another_gate_is_not_bundled(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, gate, _ = exported
    type_model = _type_model_of(gate, tmp_path)
    other = tmp_path / "other_gate.pt"
    other.write_bytes(gate.read_bytes() + b"\0")
    with pytest.raises(ConfigError, match="another gate"):
        write_bundle(tmp_path / "bundle", model, other, type_model=type_model)
    with pytest.raises(ConfigError, match="bundle it with its gate"):
        write_bundle(tmp_path / "bundle", model, None, type_model=type_model)
    assert not (tmp_path / "bundle").exists()


def test_a_bundle_whose_files_changed_is_refused(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, gate, photos = exported
    bundle = tmp_path / "bundle"
    write_bundle(bundle, model, None)
    assert read_bundle(bundle).gate is None
    onnx_file = bundle / "classifier.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-1] + b"\0")
    with pytest.raises(DataError, match="differs from the bundle's manifest"):
        predict([str(photos), "--bundle", str(bundle), "--out", str(tmp_path / "p.csv")])


def test_the_engine_files_do_not_record_where_the_checkout_lies(exported: tuple[Path, Path, Path]) -> None:
    # The exporter records each node's Python stack trace, with absolute paths: a clone elsewhere
    # (or a moved line) would write other bytes for the same model.
    model, gate, _ = exported
    for checkpoint in (model, gate):
        assert str(REPO_ROOT).encode() not in engine_path(checkpoint).read_bytes(), checkpoint


def test_scoring_a_folder_on_the_engine_gives_the_pytorch_gates_scores_maps_and_threshold(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, gate_file, photos = exported
    paths = sorted((photos / "fabric").iterdir())
    scores, maps, threshold = engine_gate_scores(engine_path(gate_file), gate_file, paths)
    gate, _ = load_gate(gate_file)
    torch_scores, torch_maps = gate.score_files(paths)
    assert threshold == pytest.approx(gate.threshold, rel=1e-6) and len(maps) == len(paths)
    assert np.abs(scores - torch_scores).max() <= SCORE_TOLERANCE * gate.threshold
    for engine_map, torch_map in zip(maps, torch_maps, strict=True):
        assert engine_map.shape == torch_map.shape and np.abs(engine_map - torch_map).max() <= SCORE_TOLERANCE * gate.threshold
    assert list(scores > threshold) == list(torch_scores > gate.threshold)
    # Another gate's checkpoint beside the export: refused, never scored.
    other = tmp_path / "gate.pt"
    other.write_bytes(gate_file.read_bytes() + b"\0")
    with pytest.raises(DataError, match="gate.onnx is stale"):
        engine_gate_scores(engine_path(gate_file), other, paths)
    # A photo that changed after ingest is named.
    broken = tmp_path / "broken.png"
    broken.write_bytes(paths[0].read_bytes()[:100])
    with pytest.raises(DataError, match="broken.png"):
        engine_gate_scores(engine_path(gate_file), gate_file, [broken])
