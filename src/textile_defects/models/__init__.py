"""The pure torch model: encoder registry and weight sources, head, classifiers, checkpoints."""

from textile_defects.models.checkpoint import load_checkpoint, save_checkpoint
from textile_defects.models.config import ModelConfig
from textile_defects.models.network import DefectClassifier, build_model
from textile_defects.models.registry import ENCODERS, EncoderSpec, build_encoder

__all__ = [
    "ENCODERS",
    "DefectClassifier",
    "EncoderSpec",
    "ModelConfig",
    "build_encoder",
    "build_model",
    "load_checkpoint",
    "save_checkpoint",
]
