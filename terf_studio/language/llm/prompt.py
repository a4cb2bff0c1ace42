"""What the LLM parser shows the model: prompt files and the command's phrases.

The prompt (instructions, a few worked examples, the output schema) lives in
``resources/parser/``, not in code.  :func:`target_candidates` lists the
phrases of the command's own words a target may be; the grammar narrows the
schema's target to them so a small model cannot invent a target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ModelError
from ...paths import resource_path
from .. import vocabulary as vocab
from ..rules import join_words, tokenise

MAX_TARGET_WORDS = 6

# words that end a clause when the candidates are listed
_CLAUSE_BREAKS = {",", ";", ".", "!", "?", ":", "and", "then", "&", "plus"}


def resources_dir() -> Path:
    """``resources/parser`` next to the package (repository layout) or in the desktop bundle."""
    return resource_path("parser")


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

    def for_adapter(self) -> "PromptSet":
        """What a model fine-tuned on this job reads (``terf_studio.language.training.lora``):
        no worked examples and no header, only ``Command: TEXT\\nPlan:``. The adapter learned the
        job, so a longer prompt would only cost training time."""
        return PromptSet(self.instructions, (), self.schema, "")

    def field_order(self) -> list[str]:
        """The edit fields in the schema's order (the order the model writes them)."""
        return list(self.schema["properties"]["edits"]["items"]["properties"])

    def plan_json(self, plan: dict[str, Any]) -> str:
        """An example plan as JSON, its fields in the schema's order."""
        order = self.field_order()
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
        """The base-model prompt for ``command``."""
        # no trailing space: the model writes " {" as one token, and the
        # grammar allows that leading space
        return f"{self.completion_prefix()}Command: {command}\nPlan:"

    def chat_messages(self, command: str) -> list[dict[str, str]]:
        """The chat-model prompt for ``command``: the examples as user/assistant turns."""
        messages = [{"role": "system", "content": self.instructions}]
        for example, plan in self.examples:
            messages.append({"role": "user", "content": example})
            messages.append({"role": "assistant", "content": self.plan_json(plan)})
        messages.append({"role": "user", "content": command})
        return messages


def command_text(text: str) -> str:
    """The command as the model sees it: normalised words, single spaces."""
    return join_words(tokenise(text))


def _split_clauses(words: list[str]) -> list[list[str]]:
    clauses: list[list[str]] = [[]]
    for w in words:
        if w in _CLAUSE_BREAKS:
            clauses.append([])
        else:
            clauses[-1].append(w)
    return clauses


def target_candidates(text: str) -> list[str]:
    """Phrases of the command's own words a target may be.

    Spans of up to :data:`MAX_TARGET_WORDS` words inside one clause that do
    not start or end with an article/preposition and do not start with a
    known task, polarity or filler word (unless that word begins a compound
    noun such as "light pole", or is a concept, polarity or filler word used
    as the adjective of a longer phrase: "dark roof", "id badge"), and never
    a lone descriptive word ("strong", "weird").
    """
    edge = vocab.DETERMINERS | vocab.PREPOSITIONS | vocab.PRONOUNS
    start_banned = (
        set(vocab.VERBS) | set(vocab.CONCEPTS) | vocab.POLARITY_UP | vocab.POLARITY_DOWN
        | vocab.FILLERS | vocab.COPULAS | set(vocab.STRENGTH_WORDS)
    )
    # a concept, polarity or filler word may begin a longer phrase as its adjective
    # ("the *dark* roof", "the *bright* sign", "the *id* badge"), never a task verb
    adjectives = set(vocab.CONCEPTS) | vocab.POLARITY_UP | vocab.POLARITY_DOWN | vocab.FILLERS
    out: list[str] = []
    for clause in _split_clauses(tokenise(text)):
        for i in range(len(clause)):
            compound = any(" ".join(clause[i:i + k]) in vocab.NOUN_COMPOUNDS for k in (1, 2, 3))
            # a task verb right after an article is a noun, as the rules read it ("the spotlight")
            compound = compound or (i > 0 and clause[i - 1] in vocab.DETERMINERS and clause[i] in vocab.VERBS
                                    and clause[i] not in vocab.NOUN_SENSES)
            shortest = i + 1
            if clause[i] in edge:
                continue
            if clause[i] in start_banned and not compound:
                following = clause[i + 1] if i + 1 < len(clause) else None
                if not (clause[i] in adjectives and following is not None
                        and following not in edge and following not in start_banned):
                    continue
                shortest = i + 2
            for j in range(shortest, min(len(clause), i + MAX_TARGET_WORDS) + 1):
                if clause[j - 1] in edge:
                    continue
                phrase = " ".join(clause[i:j])
                if j == i + 1 and phrase in vocab.DESCRIPTIVE_WORDS:
                    continue  # "the spotlight is way too strong": "strong" names no region
                if phrase not in out:
                    out.append(phrase)
    return out
