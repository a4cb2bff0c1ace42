"""Fine-tune the embedded Gemma 3 270M to read edit requests: a LoRA adapter for llama.cpp.

A training tool (``pip install 'terf-studio[llm-train]'``); the app itself only reads the
converted adapter with llama.cpp. Steps:

1. ``python -m terf_studio.language.training.lora train --data train.jsonl --out runs/parser``:
   the base GGUF is dequantised into transformers (``from_pretrained(..., gguf_file=...)``), a
   LoRA of rank 16 is put on the attention projections, and it learns to continue the short
   prompt ``HEADER\\nCommand: TEXT\\nPlan:`` with ``" " + plan JSON`` (the loss is on the answer
   only). Writes ``runs/parser/adapter/`` (PEFT) every ``--save-every`` steps, ``log.csv``, and
   the base model's config in ``runs/parser/base/`` (what the converter needs).
2. ``python -m terf_studio.language.training.lora convert --out runs/parser --llama-src DIR``:
   llama.cpp's own ``convert_lora_to_gguf.py`` (from the llama-cpp-python source distribution,
   ``vendor/llama.cpp``) writes ``runs/parser/parser-lora.gguf``, which llama.cpp loads beside the
   base model (``lora_path``).

The prompt is the same one the app uses with an adapter (:func:`finetuned_prompt`): no worked
examples, so a command costs only its own tokens.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The attention projections the adapter changes (Gemma 3 names).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


@functools.lru_cache(maxsize=1)
def _prompts() -> Any:
    from terf_studio.language.llm.prompt import PromptSet

    return PromptSet.load().without_examples()


def finetuned_prompt(command: str) -> str:
    """What the fine-tuned model sees: the parser's completion prompt without its worked
    examples (:meth:`PromptSet.without_examples`), for the command normalised as the parser does."""
    from terf_studio.language.llm.prompt import command_text

    return str(_prompts().completion_prompt(command_text(command)))


def answer_text(edits: Sequence[dict[str, Any]]) -> str:
    """The plan as the model writes it: fields in the schema's order, then a newline."""
    return " " + str(_prompts().plan_json({"edits": list(edits)})) + "\n"


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


def encode(tokenizer: Any, prompt: str, answer: str) -> tuple[list[int], list[int]]:
    """Token ids of prompt + answer, and labels that are -100 on the prompt (no loss there)."""
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def left_padded(batch: Sequence[tuple[list[int], list[int]]],
                pad: int) -> tuple[list[list[int]], list[list[int]], list[list[int]], int]:
    """Ids, attention mask and labels padded on the left, and how many last positions hold every
    row's answer plus the one position before it (whose logits predict the answer's first token)."""
    width = max(len(ids) for ids, _ in batch)
    ids = [[pad] * (width - len(i)) + i for i, _ in batch]
    mask = [[0] * (width - len(i)) + [1] * len(i) for i, _ in batch]
    labels = [[-100] * (width - len(lab)) + lab for _, lab in batch]
    answer = max(sum(1 for v in lab if v != -100) for _, lab in batch)
    return ids, mask, labels, min(width, answer + 1)


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


def train(data: Path, out: Path, gguf: Path, steps: int = 1000, batch_size: int = 8, lr: float = 2e-4,
          rank: int = 16, alpha: int = 32, seed: int = 0, save_every: int = 100,
          max_minutes: float | None = None, threads: int | None = None, resume: bool = False) -> dict[str, Any]:
    """Train (or, with ``resume``, continue from ``out/adapter`` and ``out/state.pt``: the step, the
    optimiser and the sampler, so a run can be spread over several sittings) for ``steps`` in all."""
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
    model.train()
    examples = [encode(tokenizer, finetuned_prompt(i["text"]), answer_text(i["edits"])) for i in read_items(data)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
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
            csv.writer(f).writerow(["step", "loss", "seconds"])
    done, losses = first - 1, []

    def save() -> None:
        model.save_pretrained(out / "adapter")
        torch.save({"optimizer": optimizer.state_dict(), "rng": rng.getstate(), "step": done,
                    "seconds": earlier + time.perf_counter() - started}, state_path)

    for step in range(first, steps + 1):
        if max_minutes is not None and time.perf_counter() - started > max_minutes * 60:
            break
        chosen = [examples[rng.randrange(len(examples))] for _ in range(batch_size)]
        ids, mask, labels, keep = left_padded(chosen, pad)
        # Padded on the left, every answer ends the row: the 262k-word output layer runs only on
        # the last ``keep`` positions (about a third of them), the costliest part of a step.
        logits = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), logits_to_keep=keep).logits
        target = torch.tensor(labels)[:, -keep + 1 :]
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                                 target.reshape(-1), ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        done = step
        if step % 10 == 0:
            mean = sum(losses[-10:]) / len(losses[-10:])
            with log_path.open("a", newline="") as f:
                csv.writer(f).writerow([step, f"{mean:.5f}", f"{earlier + time.perf_counter() - started:.1f}"])
            print(f"step {step}: loss {mean:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
        if step % save_every == 0:
            save()
    save()
    return {"steps": done, "seconds": round(earlier + time.perf_counter() - started, 1),
            "final_loss": sum(losses[-10:]) / max(1, len(losses[-10:]))}


def convert(out: Path, llama_src: Path, outtype: str = "f16") -> Path:
    """``out/adapter`` -> ``out/parser-lora.gguf`` with llama.cpp's converter (from ``llama_src``,
    a ``vendor/llama.cpp`` folder holding convert_lora_to_gguf.py, conversion/ and gguf-py/)."""
    target = out / "parser-lora.gguf"
    env_path = str(llama_src / "gguf-py") + ":" + str(llama_src)
    command = [sys.executable, str(llama_src / "convert_lora_to_gguf.py"), "--base", str(out / "base"),
               "--outfile", str(target), "--outtype", outtype, str(out / "adapter")]
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
    c = sub.add_parser("convert")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--llama-src", type=Path, required=True, help="llama-cpp-python's vendor/llama.cpp folder")
    args = parser.parse_args(argv)
    if args.what == "train":
        from terf_studio.language.llm.loading import default_model_path

        summary = train(args.data, args.out, args.gguf or default_model_path(), args.steps, args.batch_size,
                        args.lr, args.rank, 2 * args.rank, save_every=args.save_every, max_minutes=args.max_minutes,
                        threads=args.threads, resume=args.resume)
        print(json.dumps(summary))
    else:
        print(convert(args.out, args.llama_src))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
