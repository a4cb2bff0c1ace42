"""The LLM parser object and the process-wide cache of loaded parsers.

Loading takes seconds, so it happens once and lazily: :func:`get_llm_parser`
caches one parser per model path, and :func:`load_llm_parser_async` loads it
on a background thread (the GUI calls either from its worker thread, never
from the GUI thread).  A parser serialises its calls with a lock, so one
instance may be shared between threads.  The fixed prompt prefix is
evaluated once at load; llama.cpp then reuses its cached state, so each
command only evaluates its own few tokens.

Chat models are prompted through their own chat template (the GGUF's
``tokenizer.chat_template``, rendered by llama-cpp-python's Jinja2 chat
formatter, as ``create_chat_completion`` does) and decoded the same way as
base models.
"""

from __future__ import annotations

import ctypes
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ...errors import ModelError
from ..plan import EditPlan
from ..words import clean_command, too_long
from .decoder import MAX_ANSWER_TOKENS, N_CTX, Decoder, LayoutError
from .grammar import command_grammar, validate_output
from .loading import default_adapter_path, default_threads, import_llama, is_instruction_tuned, resolve_model_path
from .prompt import PromptSet, command_text, target_candidates


class LlmParser:
    """Parse commands with one loaded GGUF model.

    ``mode`` is "auto" (decide from the file), "completion" or "chat".
    ``chat_template`` overrides the file's template (chat mode only).
    """

    name = "llm"

    def __init__(self, model_path: str | Path, mode: str = "auto", n_threads: int | None = None,
                 prompts: PromptSet | None = None, chat_template: str | None = None,
                 adapter: str | Path | None = None) -> None:
        if mode not in {"auto", "completion", "chat"}:
            raise ValueError("mode must be 'auto', 'completion' or 'chat'")
        llama_cpp = import_llama()
        self.model_path = Path(model_path).expanduser().resolve()
        if not self.model_path.is_file():
            raise ModelError(f"LLM model file not found: {self.model_path}")
        #: A LoRA adapter fine-tuned on this job (terf_studio.language.training.lora): it reads the
        #: prompt without worked examples, as it was trained.
        self.adapter = None if adapter is None else Path(adapter).expanduser().resolve()
        if self.adapter is not None and not self.adapter.is_file():
            raise ModelError(f"LLM adapter file not found: {self.adapter}")
        self.prompts = prompts or PromptSet.load()
        if self.adapter is not None:
            self.prompts = self.prompts.for_adapter()
            mode = "completion"
        self._lock = threading.Lock()
        self._lib = llama_cpp
        start = time.perf_counter()
        self._llm = self._load_model(default_threads() if n_threads is None else n_threads)
        metadata = dict(getattr(self._llm, "metadata", {}) or {})
        template = chat_template or metadata.get("tokenizer.chat_template")
        if mode == "auto":
            mode = "chat" if is_instruction_tuned(self.model_path, metadata) else "completion"
        if mode == "chat" and not template:
            raise ModelError(f"The LLM model {self.model_path} has no chat template; use completion mode.")
        self.mode = mode
        self._formatter: Any = None  # a llama_cpp Jinja2ChatFormatter in chat mode
        if mode == "chat" and template:  # (chat mode without a template was refused above)
            self._formatter = self._chat_formatter(template)
        self.model_name = str(metadata.get("general.name") or self.model_path.stem)
        self._decoder = Decoder(self._llm, llama_cpp)
        self._warm_up()
        self.load_seconds = time.perf_counter() - start

    @property
    def fine_tuned(self) -> bool:
        """Whether this model was fine-tuned on reading edit requests (it runs with an adapter made
        by :mod:`terf_studio.language.training.lora`): the combined parser then trusts its reading
        of complaints over the rules' (:mod:`terf_studio.language.combined`, rule 3)."""
        return self.adapter is not None

    def _load_model(self, n_threads: int) -> Any:
        """The ``llama_cpp.Llama`` for this parser's file (and adapter); ModelError when it will
        not load."""
        try:
            llm = self._lib.Llama(
                model_path=str(self.model_path),
                n_ctx=N_CTX,
                n_threads=n_threads,
                n_batch=512,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp raises ValueError/RuntimeError
            raise ModelError(f"Could not load the LLM model {self.model_path}: {exc}") from exc
        if self.adapter is not None:
            self._attach_adapter(llm, self.adapter)
        return llm

    def _attach_adapter(self, llm: Any, path: Path) -> None:
        """Load the LoRA ``path`` onto ``llm``'s model and context.

        Done here rather than with ``Llama(lora_path=...)``: llama-cpp-python does not notice
        when llama.cpp refuses the file (it tests its NULL pointer against None) and the first
        evaluation then crashes the process; a corrupt or foreign adapter must be a ModelError.
        """
        lib = self._lib
        adapter = lib.llama_adapter_lora_init(llm._model.model, str(path).encode("utf-8"))
        if not adapter:
            llm.close()
            raise ModelError(f"Could not load the LLM adapter {path}: llama.cpp refused it (not a LoRA GGUF "
                             f"for {self.model_path.name}?)")
        llm._stack.callback(lib.llama_adapter_lora_free, adapter)  # freed before the context and model
        adapters = (lib.llama_adapter_lora_p_ctypes * 1)(adapter)
        scales = (ctypes.c_float * 1)(1.0)
        if lib.llama_set_adapters_lora(llm._ctx.ctx, adapters, 1, scales):
            llm.close()
            raise ModelError(f"Could not apply the LLM adapter {path} to {self.model_path.name}.")

    def _chat_formatter(self, template: str) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        return Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(self._llm.token_eos()),
            bos_token=self._token_text(self._llm.token_bos()),
        )

    # -- prompt ------------------------------------------------------------
    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def prompt_tokens(self, command: str) -> list[int]:
        """Token ids of the full prompt for ``command`` (already normalised)."""
        if self.mode == "completion":
            return self._llm.tokenize(self.prompts.completion_prompt(command).encode("utf-8"), add_bos=True)
        rendered = self._formatter(messages=self.prompts.chat_messages(command)).prompt
        bos = self._token_text(self._llm.token_bos())
        # the template may write the BOS itself; never add a second one
        add_bos = not (bos and rendered.startswith(bos))
        return self._llm.tokenize(rendered.encode("utf-8"), add_bos=add_bos, special=True)

    def _warm_up(self) -> None:
        """Evaluate the fixed prompt prefix once so later commands reuse it."""
        try:
            with self._lock:
                if self.mode == "completion":
                    tokens = self._llm.tokenize(self.prompts.completion_prefix().encode("utf-8"), add_bos=True)
                else:
                    tokens = self.prompt_tokens("brighten the trees")
                self._decoder.eval_prompt(tokens)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"The LLM model {self.model_path} failed its first run: {exc}") from exc

    # -- parsing -----------------------------------------------------------
    def raw(self, text: str) -> str:
        """The model's grammar-constrained JSON answer for ``text`` (not validated)."""
        command = command_text(text)
        candidates = target_candidates(text)
        gbnf = command_grammar(self.prompts.schema, candidates)
        with self._lock:
            prompt = self.prompt_tokens(command)
            try:
                return self._decoder.decode_structured(prompt, gbnf, candidates, self.prompts.field_order())
            except LayoutError:
                return self._decoder.decode_greedy(prompt, gbnf, MAX_ANSWER_TOKENS)

    def parse(self, text: str) -> EditPlan:
        """The validated plan for ``text``; problems go into its message, never raised."""
        start = time.perf_counter()
        if isinstance(text, str):
            text = clean_command(text)
        if not isinstance(text, str) or not text.strip():
            return EditPlan(text=text if isinstance(text, str) else "", parser=self.name,
                            message="Nothing to parse: the command is empty.")
        if message := too_long(text):
            return EditPlan(text=text, parser=self.name, message=message)
        try:
            raw = self.raw(text)
        except ModelError as exc:
            return EditPlan(text=text, parser=self.name, seconds=time.perf_counter() - start,
                            message=str(exc))
        edits, problem = validate_output(raw, target_candidates(text), text)
        message = problem
        if not edits and not problem:
            message = f"The language model found no edit in '{text.strip()}'."
        return EditPlan(edits=tuple(edits), text=text, parser=self.name,
                        seconds=time.perf_counter() - start, message=message)


# --------------------------------------------------------------------------
# cache: one parser per (model path, mode, adapter), loaded once per process

_cache: dict[tuple[str, str, str], LlmParser] = {}
_cache_lock = threading.Lock()
_load_locks: dict[tuple[str, str, str], threading.Lock] = {}


def resolve_adapter(model_path: Path, adapter: str | Path | None) -> Path | None:
    """The adapter a parser of ``model_path`` loads: "auto" is the shipped one for the default
    model (:func:`~.loading.default_adapter_path`; none for other models or when it is not
    installed), None or "none" is no adapter, anything else a GGUF path."""
    if adapter is None or str(adapter).lower() == "none":
        return None
    if str(adapter).lower() == "auto":
        return default_adapter_path(model_path)
    return Path(adapter).expanduser().resolve()


def get_llm_parser(model_path: str | Path | None = None, mode: str = "auto",
                   adapter: str | Path | None = "auto") -> LlmParser:
    """The cached parser for ``model_path`` (None: the default Gemma model) and ``adapter``
    (:func:`resolve_adapter`; by default the fine-tuned adapter shipped for the default model).

    The first call per path loads the model (seconds; call it from a worker
    thread, not the GUI thread); later calls return the same object.
    Concurrent first calls load it once.  Raises ModelError with a one-line
    message when llama-cpp-python, the model package or the file is missing.
    """
    import_llama()
    path = resolve_model_path(model_path)
    lora = resolve_adapter(path, adapter) if mode != "chat" else None
    key = (str(path), mode, str(lora))
    with _cache_lock:
        parser = _cache.get(key)
        if parser is not None:
            return parser
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        with _cache_lock:
            parser = _cache.get(key)
        if parser is None:
            parser = LlmParser(path, mode=mode, adapter=lora)
            with _cache_lock:
                _cache[key] = parser
    return parser


def load_llm_parser_async(model_path: str | Path | None = None, mode: str = "auto") -> "Future[LlmParser]":
    """Start loading on a daemon thread; the future gives the parser or the ModelError."""
    future: Future[LlmParser] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(get_llm_parser(model_path, mode))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)

    threading.Thread(target=work, name="terf-llm-load", daemon=True).start()
    return future
