"""Logging set-up that plays well with tqdm progress bars."""

from __future__ import annotations

import logging
import os
import sys

from tqdm.auto import tqdm


class _TqdmHandler(logging.StreamHandler):
    """Write records through ``tqdm.write`` so they do not break progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def setup_logging(level: str | int | None = None) -> None:
    """Configure the root logger once: ``LOG_LEVEL`` env var or INFO, to stderr."""
    resolved = level or os.environ.get("LOG_LEVEL", "INFO")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _TqdmHandler):
            root.removeHandler(handler)
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(resolved)
    # Third-party libraries are chatty at INFO; keep their warnings only.
    for noisy in ("PIL", "matplotlib", "urllib3", "alembic", "mlflow", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress(iterable=None, **kwargs):  # type: ignore[no-untyped-def]
    """A tqdm bar on stderr; quiet when ``TQDM_DISABLE=1`` (tqdm's own switch)."""
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kwargs)
