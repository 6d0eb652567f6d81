"""Import torchvision without paying for torch's compiler at start-up.

``torchvision.ops.roi_align`` runs ``from torch._dynamo.utils import
is_compile_supported`` when torchvision is imported, and importing
``torch._dynamo`` loads the whole compiler stack (dynamo, sympy, FX passes):
1.5-2 s of every stage process, most of torchvision's import time, for a
function only ``roi_align`` calls, and only when it runs. The project never
calls it.

:func:`import_torchvision` imports torchvision while ``torch._dynamo`` is a
placeholder whose ``utils.is_compile_supported`` imports the real one on its
first call, then removes the placeholder, so a later ``import torch._dynamo``
(``torch.export``, ``torch.compile``) loads the real compiler as usual.
torchvision behaves exactly as before; only the compiler's import moves to
where it is used. Should a torchvision release need more of ``torch._dynamo``
at import, the placeholder is dropped and torchvision imported the ordinary
way (logged at DEBUG): slower, never wrong.
"""

from __future__ import annotations

import logging
import sys
import types
from typing import Any

import torch

log = logging.getLogger(__name__)

_DYNAMO = "torch._dynamo"
_DYNAMO_UTILS = "torch._dynamo.utils"


def _is_compile_supported(device_type: Any) -> Any:
    """The real ``torch._dynamo.utils.is_compile_supported``, imported on the first call."""
    from torch._dynamo.utils import is_compile_supported

    return is_compile_supported(device_type)


def _install_placeholder() -> tuple[types.ModuleType, types.ModuleType]:
    package = types.ModuleType(_DYNAMO)
    package.__path__ = []  # a package, so that "torch._dynamo.utils" resolves to the entry below
    utils = types.ModuleType(_DYNAMO_UTILS)
    utils.is_compile_supported = _is_compile_supported  # type: ignore[attr-defined]
    package.utils = utils  # type: ignore[attr-defined]
    sys.modules[_DYNAMO], sys.modules[_DYNAMO_UTILS] = package, utils
    return package, utils


def _remove_placeholder(placeholder: tuple[types.ModuleType, types.ModuleType]) -> None:
    for name, module in zip((_DYNAMO, _DYNAMO_UTILS), placeholder, strict=True):
        if sys.modules.get(name) is module:
            del sys.modules[name]
    if torch.__dict__.get("_dynamo") is placeholder[0]:  # the import system set it on the parent package
        delattr(torch, "_dynamo")


def import_torchvision() -> types.ModuleType:
    """``torchvision``, imported without loading ``torch._dynamo`` where that is possible (see the module docstring)."""
    if "torchvision" in sys.modules or _DYNAMO in sys.modules:
        import torchvision

        return torchvision
    placeholder = _install_placeholder()
    try:
        import torchvision
    except (ImportError, AttributeError) as error:
        log.debug("torchvision needs more of torch._dynamo at import (%s); importing it the ordinary way", error)
        for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
            del sys.modules[name]
        _remove_placeholder(placeholder)
        import torchvision
    finally:
        _remove_placeholder(placeholder)
    return torchvision
