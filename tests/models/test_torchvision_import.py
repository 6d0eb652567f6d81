"""torchvision imported without torch's compiler (models/torchvision_import.py), and the ordinary way when that fails."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.repo import REPO_ROOT, tool_env

MODULE = REPO_ROOT / "src" / "textile_defects" / "models" / "torchvision_import.py"


def run_python(code: str) -> str:
    """``code`` run in a fresh interpreter (the import state is per process); its stdout."""
    env = tool_env({"PYTHONPATH": str(REPO_ROOT / "src")})
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_models_load_torchvision_without_the_compiler_and_the_compiler_still_loads_later() -> None:
    shown = run_python(
        "import sys, torch\n"
        "from textile_defects.models import build_encoder\n"
        "print('compiler at import:', sorted({'torch._dynamo', 'sympy'} & set(sys.modules)))\n"
        "from torchvision.ops import roi_align\n"
        "print('roi_align:', tuple(roi_align(torch.rand(1, 1, 8, 8), [torch.tensor([[0, 0, 4, 4.0]])], 2).shape))\n"
        "program = torch.export.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),))\n"
        "import torch._dynamo\n"
        "print('compiler later:', hasattr(torch._dynamo, 'optimize'), type(program).__name__)\n"
    )
    assert "compiler at import: []" in shown, shown
    assert "roi_align: (1, 1, 2, 2)" in shown, shown
    assert "compiler later: True ExportedProgram" in shown, shown


def test_a_torchvision_that_needs_more_of_the_compiler_is_imported_the_ordinary_way() -> None:
    # A placeholder without the function torchvision imports stands for a release that needs more of it.
    shown = run_python(
        "import importlib.util, logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format='%(message)s')\n"
        # The file alone: importing it through textile_defects.models would import torchvision first.
        f"spec = importlib.util.spec_from_file_location('torchvision_import', {str(MODULE)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "real = module._install_placeholder\n"
        "def lacking():\n"
        "    package, utils = real()\n"
        "    del utils.is_compile_supported\n"
        "    return package, utils\n"
        "module._install_placeholder = lacking\n"
        "torchvision = module.import_torchvision()\n"
        "import torch\n"
        "print('real compiler:', hasattr(sys.modules['torch._dynamo'], 'optimize'), torch._dynamo is sys.modules['torch._dynamo'])\n"
        "print('models:', hasattr(torchvision.models, 'mobilenet_v3_large'))\n"
    )
    assert "importing it the ordinary way" in shown, shown
    assert "real compiler: True True" in shown, shown
    assert "models: True" in shown, shown
