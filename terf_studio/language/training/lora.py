"""Fine-tune the embedded Gemma 3 270M to read edit requests: a LoRA adapter for llama.cpp.

A training tool (``pip install 'terf-studio[llm-train]'``); the app itself only reads the
converted adapter with llama.cpp. Steps:

1. ``python -m terf_studio.language.training.lora train --data train.jsonl --out runs/parser``:
   the base GGUF is dequantised into transformers (``from_pretrained(..., gguf_file=...)``), a
   LoRA of rank 16 is put on the attention projections, and it learns to continue the short
   prompt ``Command: TEXT\\nPlan:`` with the plan, written in the decoder's layout
   (:mod:`terf_studio.language.llm.layout`). The loss is taken only where the decoder makes a
   choice (an edit or none, the task, the target, the strength, another edit or the end), over
   exactly the tokens it compares there: what is trained is what is decoded, and the 262k-word
   output layer is never computed in full. Writes ``runs/parser/adapter/`` (PEFT) every
   ``--save-every`` steps, ``log.csv`` (with ``--val``, the plan accuracy on those items at each
   save, and ``runs/parser/best/``: the adapter of the save that scored best so far, since later
   steps tend to memorise the generator's templates), and the base model's config in
   ``runs/parser/base/`` (what the converter needs).
2. ``python -m terf_studio.language.training.lora convert --out runs/parser --llama-src DIR``:
   llama.cpp's own ``convert_lora_to_gguf.py`` (from the llama-cpp-python source distribution,
   ``vendor/llama.cpp``) writes ``runs/parser/parser-lora.gguf``, which llama.cpp loads beside the
   base model (``lora_path``); ``--best`` converts ``best/`` instead of the last save.

The prompt is the same one the app uses with an adapter (:func:`finetuned_prompt`): no worked
examples and no header, so a command costs only its own tokens.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The attention projections the adapter changes (Gemma 3 names).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


@functools.lru_cache(maxsize=1)
def _prompts() -> Any:
    from terf_studio.language.llm.prompt import PromptSet

    return PromptSet.load().for_adapter()


def finetuned_prompt(command: str) -> str:
    """What the fine-tuned model sees: the parser's prompt for an adapter
    (:meth:`PromptSet.for_adapter`), for the command normalised as the parser does."""
    from terf_studio.language.llm.prompt import command_text

    return str(_prompts().completion_prompt(command_text(command)))


def plan_steps(text: str, edits: Sequence[dict[str, Any]]) -> list[tuple[list[str], str]]:
    """The decoder's choices that write ``edits`` for the command ``text``
    (:func:`terf_studio.language.llm.layout.plan_choices`); ValueError when the decoder could not
    write that plan (a target that is not a phrase of the command, say)."""
    from terf_studio.language.combined import normalise_target
    from terf_studio.language.llm.layout import plan_choices
    from terf_studio.language.llm.prompt import target_candidates

    candidates = target_candidates(text)
    # the sets' targets may drop articles ("car on left"): take the command's phrase they name
    by_key = {}
    for c in reversed(candidates):
        by_key[normalise_target(c)] = c
    written = [{**e, "target": e["target"] if e.get("target") in candidates or e.get("target") is None
                else by_key.get(normalise_target(e["target"]), e["target"])} for e in edits]
    return plan_choices(written, candidates, _prompts().field_order())


def answer_text(text: str, edits: Sequence[dict[str, Any]]) -> str:
    """The plan as the decoder writes it for ``text``: the layout's text."""
    from terf_studio.language.llm.layout import plan_text

    return plan_text(plan_steps(text, edits))


@dataclass(frozen=True)
class Example:
    """One command as training sees it: the tokens of prompt + plan, and the choice points.

    ``points`` are ``(i, options, k)``: the model's output at token ``i`` is scored over the
    token ids ``options`` (what the decoder compares there), ``options[k]`` being right."""

    ids: list[int]
    points: list[tuple[int, list[int], int]]


def encode(tokenizer: Any, text: str, edits: Sequence[dict[str, Any]]) -> Example:
    """Tokens and choice points for one command and its plan. Each option is tokenised on its
    own, as the decoder does (llama.cpp's ``tokenize(option)``), not the answer as a whole."""
    from terf_studio.language.llm.layout import divergences

    def tokens(piece: str) -> list[int]:
        return list(tokenizer(piece, add_special_tokens=False)["input_ids"])

    ids = list(tokenizer(finetuned_prompt(text), add_special_tokens=True)["input_ids"])
    points: list[tuple[int, list[int], int]] = []
    for options, taken in plan_steps(text, edits):
        seqs = {o: tokens(o) for o in options}
        for pos, nexts in divergences(seqs, taken):
            points.append((len(ids) + pos - 1, nexts, nexts.index(seqs[taken][pos])))
        ids.extend(seqs[taken])
    return Example(ids, points)


def padded(batch: Sequence[Example], pad: int) -> tuple[list[list[int]], list[list[int]]]:
    """Ids and attention mask padded on the right (the choice points keep their indices)."""
    width = max(len(e.ids) for e in batch)
    ids = [e.ids + [pad] * (width - len(e.ids)) for e in batch]
    mask = [[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in batch]
    return ids, mask


def option_scores(torch: Any, state: Any, head: Any, options: Sequence[int], softcap: float | None = None) -> Any:
    """The model's scores for the token ids ``options`` from one position's final (normed)
    hidden ``state``; ``head`` is the output layer's weight: a row per option token is all that
    is needed, not the 262k-word projection."""
    logits = state @ head[torch.tensor(options, device=state.device)].T
    return torch.tanh(logits / softcap) * softcap if softcap else logits


def choice_loss(torch: Any, hidden: Any, head: Any, batch: Sequence[Example], softcap: float | None) -> Any:
    """Cross-entropy at every choice point of ``batch`` over the options' tokens only."""
    losses = []
    for row, example in enumerate(batch):
        for i, options, right in example.points:
            logits = option_scores(torch, hidden[row, i], head, options, softcap)
            target = torch.tensor([right], device=logits.device)
            losses.append(torch.nn.functional.cross_entropy(logits[None], target))
    return torch.stack(losses).mean()


def pad_id(tokenizer: Any) -> int:
    """The id right padding uses (never attended to, never scored)."""
    return int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0


def _require_training_packages() -> tuple[Any, Any, Any]:
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise SystemExit(f"training the parser's adapter needs: pip install 'terf-studio[llm-train]' ({exc})") from None
    return torch, transformers, peft


def base_cache_dir(gguf: Path) -> Path:
    """Where the dequantised base is kept between runs (reading the GGUF in Python takes minutes)."""
    import os

    stat = gguf.stat()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "terf-studio" / "llm-base"
    return root / f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def load_base(gguf: Path) -> tuple[Any, Any]:
    """The base model (float32) and its tokenizer from the GGUF file; the first load saves them
    in transformers' own format under :func:`base_cache_dir`, which later loads read instead."""
    torch, transformers, _ = _require_training_packages()
    cache = base_cache_dir(gguf)
    if (cache / "config.json").is_file():
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(cache))
        model = transformers.AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32)
        return model, tokenizer
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                              dtype=torch.float32)
    # The weights are already dequantised to float32; transformers still marks the model as
    # GGUF-quantised and refuses to save it, so drop the marks first.
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    partial = cache.with_name(cache.name + ".part")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    _plain_config(partial / "config.json")
    partial.rename(cache)
    return model, tokenizer


def _plain_config(path: Path) -> None:
    """Drop the GGUF quantisation note from a saved config: the converter describes the adapter
    from the config alone and refuses a quantised base it would have to read."""
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("quantization_config", None)
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")


def read_log(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def read_items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def encode_items(tokenizer: Any, items: Sequence[dict[str, Any]]) -> tuple[list[Example], int]:
    """The items the decoder could write, encoded, and how many it could not (skipped)."""
    examples, skipped = [], 0
    for item in items:
        try:
            examples.append(encode(tokenizer, item["text"], item["edits"]))
        except ValueError:
            skipped += 1
    return examples, skipped


def _hidden(torch: Any, model: Any, batch: Sequence[Example], pad: int, device: str) -> Any:
    """The final hidden states of a right-padded batch (the text model under the LM head)."""
    ids, mask = padded(batch, pad)
    inner = model.get_base_model().model
    out = inner(input_ids=torch.tensor(ids, device=device), attention_mask=torch.tensor(mask, device=device))
    return out.last_hidden_state


def evaluate(torch: Any, model: Any, examples: Sequence[Example], pad: int, device: str = "cpu",
             batch_size: int = 16) -> dict[str, float]:
    """Choice accuracy and plan accuracy with the true plan fed in: a plan is right when the
    model prefers the right option at each of its choice points, which is when the decoder
    (greedy, choice by choice) writes exactly that plan."""
    head = model.get_output_embeddings().weight
    right_points = points = right_plans = 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            hidden = _hidden(torch, model, batch, pad, device)
            for row, example in enumerate(batch):
                ok = True
                for i, options, right in example.points:
                    hit = int(torch.argmax(option_scores(torch, hidden[row, i], head, options))) == right
                    right_points += hit
                    ok = ok and hit
                points += len(example.points)
                right_plans += ok
    model.train(was_training)
    return {"choices": right_points / max(1, points), "plans": right_plans / max(1, len(examples))}


class BestSave:
    """The save with the best validation plan accuracy, kept in ``folder`` (the adapter and
    ``score.json``); a resumed run compares with the score kept there, a new run starts afresh."""

    def __init__(self, folder: Path, resume: bool) -> None:
        self.folder = folder
        score_file = folder / "score.json"
        self.plans = float(json.loads(score_file.read_text())["plans"]) if resume and score_file.is_file() else -1.0

    def offer(self, step: int, scores: dict[str, float], save: Callable[[Path], Any]) -> bool:
        """Keep this save (``save(folder)`` writes the adapter) when it beats the best so far."""
        if not scores or scores["plans"] <= self.plans:
            return False
        self.plans = scores["plans"]
        save(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "score.json").write_text(json.dumps({"step": step, **scores}))
        return True


def train(data: Path, out: Path, gguf: Path, steps: int = 1000, batch_size: int = 8, lr: float = 2e-4,
          rank: int = 16, alpha: int = 32, seed: int = 0, save_every: int = 100,
          max_minutes: float | None = None, threads: int | None = None, resume: bool = False,
          val: Path | None = None, device: str = "cpu") -> dict[str, Any]:
    """Train (or, with ``resume``, continue from ``out/adapter`` and ``out/state.pt``: the step, the
    optimiser and the sampler, so a run can be spread over several sittings) for ``steps`` in all.
    With ``val``, each save also logs the plan accuracy on those items (:func:`evaluate`)."""
    torch, _, peft = _require_training_packages()
    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    random.seed(seed)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_base(gguf)
    # The converter needs only the base config, and its "architectures" (a GGUF-loaded config has none).
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(out / "base")
    _plain_config(out / "base" / "config.json")
    tokenizer.save_pretrained(out / "base")
    config = peft.LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.05, target_modules=list(TARGET_MODULES),
                             task_type="CAUSAL_LM")
    state_path = out / "state.pt"
    if resume:
        if not (out / "adapter").is_dir():
            raise SystemExit(f"nothing to resume in {out}: no adapter/")
        model = peft.PeftModel.from_pretrained(model, out / "adapter", is_trainable=True)
    else:
        model = peft.get_peft_model(model, config)
    model.to(device)
    model.train()
    examples, skipped = encode_items(tokenizer, read_items(data))
    val_examples = encode_items(tokenizer, read_items(val))[0] if val is not None else []
    print(f"{len(examples)} training items ({skipped} skipped: plans the decoder cannot write)", flush=True)
    pad = pad_id(tokenizer)
    head = model.get_output_embeddings().weight
    softcap = getattr(model.config, "final_logit_softcapping", None)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    log_path = out / "log.csv"
    rng = random.Random(seed)
    first, earlier = 1, 0.0
    if resume and state_path.is_file():
        state = torch.load(state_path, weights_only=False)  # our own file: optimiser state and the sampler's
        optimizer.load_state_dict(state["optimizer"])
        rng.setstate(state["rng"])
        first, earlier = state["step"] + 1, state["seconds"]
    elif resume:  # a run saved before state.pt existed: its step and time from the log, a fresh optimiser
        last = read_log(log_path)[-1]
        first, earlier = int(last["step"]) + 1, float(last["seconds"])
        rng = random.Random(seed + first)
        print(f"resuming at step {first} with a fresh optimiser (no state.pt in {out})", flush=True)
    else:
        with log_path.open("w", newline="") as f:
            csv.writer(f).writerow(["step", "loss", "seconds", "val_choices", "val_plans"])
    done = first - 1
    losses: list[float] = []
    best = BestSave(out / "best", resume)

    def save() -> None:
        model.save_pretrained(out / "adapter")
        torch.save({"optimizer": optimizer.state_dict(), "rng": rng.getstate(), "step": done,
                    "seconds": earlier + time.perf_counter() - started}, state_path)

    def log(step: int, scores: dict[str, float]) -> None:
        mean = sum(losses[-10:]) / max(1, len(losses[-10:]))
        row = [step, f"{mean:.5f}", f"{earlier + time.perf_counter() - started:.1f}"]
        row += [f"{scores[k]:.4f}" for k in ("choices", "plans")] if scores else ["", ""]
        with log_path.open("a", newline="") as f:
            csv.writer(f).writerow(row)
        extra = f", val plans {scores['plans']:.3f}" if scores else ""
        print(f"step {step}: loss {mean:.4f} ({time.perf_counter() - started:.0f} s){extra}", flush=True)

    for step in range(first, steps + 1):
        if max_minutes is not None and time.perf_counter() - started > max_minutes * 60:
            break
        chosen = [examples[rng.randrange(len(examples))] for _ in range(batch_size)]
        hidden = _hidden(torch, model, chosen, pad, device)
        loss = choice_loss(torch, hidden, head, chosen, softcap)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        done = step
        saving = step % save_every == 0
        if saving:
            save()
        if step % 10 == 0 or saving:
            scores = evaluate(torch, model, val_examples, pad, device) if saving and val_examples else {}
            log(step, scores)
            best.offer(step, scores, model.save_pretrained)
    save()
    return {"steps": done, "seconds": round(earlier + time.perf_counter() - started, 1),
            "final_loss": sum(losses[-10:]) / max(1, len(losses[-10:]))}


def score(adapter_dir: Path, data: Path, gguf: Path, threads: int | None = None) -> dict[str, float]:
    """Plan accuracy of a saved adapter on ``data`` in transformers (:func:`evaluate`): a quick
    check that needs neither the conversion nor llama.cpp."""
    torch, _, peft = _require_training_packages()
    if threads:
        torch.set_num_threads(threads)
    model, tokenizer = load_base(gguf)
    model = peft.PeftModel.from_pretrained(model, adapter_dir)
    examples, skipped = encode_items(tokenizer, read_items(data))
    pad = pad_id(tokenizer)
    return {**evaluate(torch, model, examples, pad), "items": len(examples), "skipped": skipped}


def convert(out: Path, llama_src: Path, outtype: str = "f16", best: bool = False) -> Path:
    """``out/adapter`` (``best``: ``out/best``, the best save by ``--val``) -> ``out/parser-lora.gguf``
    with llama.cpp's converter (from ``llama_src``, a ``vendor/llama.cpp`` folder holding
    convert_lora_to_gguf.py, conversion/ and gguf-py/)."""
    source = out / ("best" if best else "adapter")
    if not source.is_dir():
        raise SystemExit(f"no {source.name}/ in {out}" + (" (train with --val keeps one)" if best else ""))
    target = out / "parser-lora.gguf"
    env_path = str(llama_src / "gguf-py") + ":" + str(llama_src)
    command = [sys.executable, str(llama_src / "convert_lora_to_gguf.py"), "--base", str(out / "base"),
               "--outfile", str(target), "--outtype", outtype, str(source)]
    subprocess.run(command, check=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, required=True, help="JSON lines of {text, edits}")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--gguf", type=Path, default=None, help="base model (default: the embedded Gemma 3 270M)")
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--rank", type=int, default=16)
    t.add_argument("--save-every", type=int, default=100)
    t.add_argument("--max-minutes", type=float, default=None)
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--resume", action="store_true", help="continue the run in --out up to --steps in all")
    t.add_argument("--val", type=Path, default=None, help="JSON lines scored at every save (plan accuracy)")
    t.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    e = sub.add_parser("score", help="plan accuracy of a saved adapter, in transformers")
    e.add_argument("--out", type=Path, required=True, help="the training run's folder (holds adapter/)")
    e.add_argument("--data", type=Path, required=True)
    e.add_argument("--gguf", type=Path, default=None)
    e.add_argument("--threads", type=int, default=None)
    c = sub.add_parser("convert")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--llama-src", type=Path, required=True, help="llama-cpp-python's vendor/llama.cpp folder")
    c.add_argument("--best", action="store_true", help="convert best/ (the best save by --val), not the last")
    args = parser.parse_args(argv)
    if args.what in {"train", "score"}:
        from terf_studio.language.llm.loading import default_model_path

        gguf = args.gguf or default_model_path()
    if args.what == "train":
        summary = train(args.data, args.out, gguf, args.steps, args.batch_size,
                        args.lr, args.rank, 2 * args.rank, save_every=args.save_every, max_minutes=args.max_minutes,
                        threads=args.threads, resume=args.resume, val=args.val, device=args.device)
        print(json.dumps(summary))
    elif args.what == "score":
        print(json.dumps(score(args.out / "adapter", args.data, gguf, args.threads)))
    else:
        print(convert(args.out, args.llama_src, best=args.best))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
