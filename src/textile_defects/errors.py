"""Errors a user can act on. Stage scripts turn these into a message on stderr and exit 2."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: the message says which file or setting is wrong and what to do."""


class ConfigError(PipelineError):
    """A setting in params.yaml (or a CLI flag) is invalid."""


class DataError(PipelineError):
    """Input data is unusable: unreadable images, missing files, bad manifests."""


class WeightsError(PipelineError):
    """Pretrained weights were asked for but cannot be found."""


class OutputError(PipelineError):
    """An output could not be written: a full disk or quota, a read-only or forbidden folder."""
