"""Grammar-checked decoding of a plan with a loaded llama.cpp model.

The plan is written in a fixed layout (the schema's field order, the
spacing of ``json.dumps``), so most of its tokens are known in advance:
``{"edits": [{"task": "`` ... Only a few points are real choices: whether
there is (another) edit, the task, the target (null or one of the
command's phrases), the strength.  :meth:`Decoder.decode_structured`
evaluates each known stretch in one batch and, at each choice, compares the
model's scores for the options' next tokens (a token trie, so a long target
costs one step per point where phrases diverge).  Every token, chosen or
known, is first checked and then accepted by llama.cpp's grammar sampler.
Compared with token-by-token generation this cuts the model calls from
about 25 to about 6 per edit; the full vocabulary projection (262k tokens
for Gemma) is computed only at choice points.  A token-by-token greedy loop
(:meth:`Decoder.decode_greedy`), also grammar-checked (best token first,
then the best 64, 2048, all), takes over if the layout ever does not apply.

(llama-cpp-python's own ``create_completion(grammar=...)`` puts the grammar
in front of the sampler chain, so it checks all 262k tokens at every step:
tens of seconds per command here.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ...errors import ModelError
from . import layout
from .grammar import MAX_EDITS, complete_json, grammar_mask, grammar_sampler

N_CTX = 4096
# tokens the greedy fallback may write (and room the context keeps for them)
MAX_ANSWER_TOKENS = 24 + 30 * MAX_EDITS


class LayoutError(Exception):
    """The fixed layout does not fit; decode token by token instead."""


class Decoder:
    """Decoding state shared by both decoders: the model and llama.cpp's C API.

    ``llm`` is a ``llama_cpp.Llama``, ``lib`` the ``llama_cpp`` module.  The
    caller serialises calls (the model's state is shared).
    """

    def __init__(self, llm: Any, lib: Any) -> None:
        self.llm = llm
        self.lib = lib
        self.n_vocab: int = llm.n_vocab()
        self.eos: int = llm.token_eos()

    def eval_prompt(self, tokens: list[int]) -> None:
        """Evaluate ``tokens``, reusing the cached state of a shared prefix."""
        llm = self.llm
        if len(tokens) >= N_CTX - MAX_ANSWER_TOKENS:
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

    def logits(self) -> Any:
        """The last position's logits, a numpy view of llama.cpp's buffer."""
        import numpy as np

        ptr = self.lib.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def allowed(self, sampler: Any, token: int) -> bool:
        """Whether the grammar allows ``token`` next."""
        import numpy as np

        return bool(grammar_mask(self.lib, sampler, np.array([token]), self.logits())[0])

    def next_token(self, sampler: Any) -> int:
        """The best-scoring token the grammar allows (widening the search as needed)."""
        import numpy as np

        logits = self.logits()
        best = int(np.argmax(logits))
        if grammar_mask(self.lib, sampler, np.array([best]), logits)[0]:
            return best
        for k in (64, 2048, self.n_vocab):
            k = min(k, self.n_vocab)
            ids = np.argpartition(-logits, k - 1)[:k] if k < self.n_vocab else np.arange(self.n_vocab)
            ids = ids[np.argsort(-logits[ids], kind="stable")]
            allowed = grammar_mask(self.lib, sampler, ids, logits)
            if allowed.any():
                return int(ids[int(np.argmax(allowed))])
        raise ModelError("The LLM parser's grammar allows no next token.")

    def _sampler(self, gbnf: str) -> AbstractContextManager[Any]:
        return grammar_sampler(self.lib, self.llm._model.vocab, gbnf)

    def decode_greedy(self, tokens: list[int], gbnf: str, max_tokens: int = MAX_ANSWER_TOKENS) -> str:
        """Token-by-token greedy decoding under the grammar (the fallback)."""
        llm = self.llm
        with self._sampler(gbnf) as sampler:
            self.eval_prompt(tokens)
            out: list[int] = []
            text = ""
            for _ in range(max_tokens):
                token = self.next_token(sampler)
                self.lib.llama_sampler_accept(sampler, token)
                if token == self.eos or llm.token_eos() == token:
                    break
                out.append(token)
                text = llm.detokenize(out).decode("utf-8", errors="ignore")
                if text.rstrip().endswith("}") and complete_json(text):
                    break
                llm.eval([token])
            return text.strip()

    def decode_structured(self, tokens: list[int], gbnf: str, candidates: list[str], order: list[str]) -> str:
        """Decode the plan choice by choice (see the module notes and :mod:`.layout`).

        ``order`` is the schema's edit fields in writing order.  Raises
        :class:`LayoutError` when the fixed layout does not fit.
        """
        try:
            layout.check_order(order)
        except ValueError as exc:
            raise LayoutError(str(exc)) from None
        with self._sampler(gbnf) as sampler:
            self.eval_prompt(tokens)
            state = _Choices(self, sampler)
            values = layout.field_values(candidates)
            more = state.choose(layout.opening_options(order))
            edits = 0
            while layout.opens_an_edit(more):
                edits += 1
                for k in range(len(order)):
                    state.choose(layout.field_options(order, k, values))
                more = state.choose(layout.closing_options(order, edits))
            return state.text().strip()


class _Choices:
    """Walks a token trie of options, checking every token with the grammar.

    Known tokens are accepted at once and evaluated in one batch when the
    next choice needs the model's scores.
    """

    def __init__(self, decoder: Decoder, sampler: Any) -> None:
        self.decoder = decoder
        self.sampler = sampler
        self.tokens: list[int] = []
        self.pending: list[int] = []  # accepted, not yet evaluated
        self._cache: dict[str, list[int]] = {}

    def _tokenise(self, option: str) -> list[int]:
        toks = self._cache.get(option)
        if toks is None:
            toks = self.decoder.llm.tokenize(option.encode("utf-8"), add_bos=False)
            self._cache[option] = toks
        return toks

    def _take(self, token: int) -> None:
        if not self.decoder.allowed(self.sampler, token):
            raise LayoutError("a layout token is outside the grammar")
        self.decoder.lib.llama_sampler_accept(self.sampler, token)
        self.tokens.append(token)
        self.pending.append(token)

    def _scores(self) -> Any:
        if self.pending:
            self.decoder.llm.eval(self.pending)
            self.pending = []
        return self.decoder.logits()

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
                raise LayoutError("one option is a prefix of another")
            if len(nexts) == 1:
                token = nexts.pop()
            else:
                logits = self._scores()
                allowed = [t for t in nexts if self.decoder.allowed(self.sampler, t)]
                if not allowed:
                    raise LayoutError("the grammar allows none of the options")
                token = max(allowed, key=lambda t: float(logits[t]))
            self._take(token)
            alive = [o for o in alive if seqs[o][pos] == token]
            pos += 1

    def text(self) -> str:
        return self.decoder.llm.detokenize(self.tokens).decode("utf-8", errors="ignore")
