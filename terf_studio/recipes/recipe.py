"""A recipe: the steps of an edit session as plain data, to run again on other pairs.

A recipe file is JSON (or YAML) that a person can write by hand::

    {"format": "terf-recipe/1",
     "fusion": {"arch": "lite"},
     "steps": [
       {"text": "make the people lean towards infrared and darken the street lamps",
        "engine": "fast",
        "edits": [{"task": "infrared", "target": "people", "strength": 1.0, "region": "find"},
                  {"task": "darken", "target": "street lamps", "region": "find"}]},
       {"text": "denoise", "edits": [{"task": "denoise", "region": "whole"}]},
       {"text": "blur the plate", "edits": [{"task": "blur", "target": "plate",
                                               "region": {"mask": "plate.png"}}]}]}

Each edit's ``region`` says where it applies on every pair: ``"find"`` runs the region finders
on the target phrase again for each pair (the default when there is a target), ``"whole"`` is
the whole image (the default without one), and ``{"mask": FILE}`` reuses a painted or clicked
mask as it is (the pair must have the mask's size). ``FILE`` is relative to the recipe file, or
a member of the ``.terf`` project the recipe is read from; recipes saved by the editor carry
their masks inline as ``{"mask_png": BASE64}`` so that they are one file.

``engine`` (per step) is ``auto``, ``fast``, ``quick`` or ``exact``; the plan is stored as it
was run, so running a recipe does not read any text again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terf_studio.document.session import STRENGTH_SUFFIX
from terf_studio.errors import TerfError
from terf_studio.language import Edit
from terf_studio.regions import Mask

if TYPE_CHECKING:
    from terf_studio.document.session import EditSession, Step

FORMAT = "terf-recipe/1"
#: The largest recipe file read (inline masks included).
MAX_RECIPE_BYTES = 64 * 1024**2
ENGINE_CHOICES = ("auto", "fast", "quick", "exact")
#: Mask sources that a person made (painted, clicked, boxed, loaded): reused as they are.
#: Everything else was found from the edit's text and is found again on each pair.
USER_MASK_SOURCES = frozenset({"manual", "point", "box", "file"})
#: Projects saved before the engines existed record their steps as ``fine-tune``.
_LEGACY_ENGINES = {"fine-tune": "quick"}
_REGION_WORDS = {"find": "found on each pair", "mask": "painted mask", "whole": "whole image"}


class RecipeError(TerfError):
    """A recipe that cannot be read or does not fit a pair; the message says where."""


@dataclass(frozen=True)
class RecipeEdit:
    """One edit and where it applies: ``region`` is ``find``, ``whole`` or ``mask``."""

    edit: Edit
    region: str
    mask: Mask | None = None

    def to_dict(self, mask_ref: str | None = None) -> dict[str, Any]:
        out = self.edit.to_dict()
        if self.region == "mask":
            assert self.mask is not None
            out["region"] = ({"mask": mask_ref} if mask_ref is not None else
                             {"mask_png": base64.b64encode(self.mask.to_png_bytes(bit_depth=16)).decode("ascii")})
        else:
            out["region"] = self.region
        return out


@dataclass(frozen=True)
class RecipeStep:
    """One command of the session: its edits run as one step, with one engine."""

    text: str
    edits: tuple[RecipeEdit, ...]
    engine: str = "auto"


@dataclass(frozen=True)
class Recipe:
    steps: tuple[RecipeStep, ...]
    arch: str = "lite"
    name: str = ""
    source: str = ""  # where it was read from (for messages)
    _hash: list[str] = field(default_factory=list, compare=False, repr=False)

    def to_dict(self, mask_refs: Mapping[tuple[int, int], str] | None = None) -> dict[str, Any]:
        """Plain data; masks inline (base64 PNG) unless ``mask_refs[(step, edit)]`` names a file."""
        refs = mask_refs or {}
        return {
            "format": FORMAT,
            **({"name": self.name} if self.name else {}),
            "fusion": {"arch": self.arch},
            "steps": [
                {"text": step.text, "engine": step.engine,
                 "edits": [e.to_dict(refs.get((n, m))) for m, e in enumerate(step.edits)]}
                for n, step in enumerate(self.steps)
            ],
        }

    def hash(self) -> str:
        """A short fingerprint of what the recipe does (not of its text or name): a pair made
        by a recipe with the same hash needs no second run."""
        if not self._hash:
            digest = hashlib.sha256()
            digest.update(json.dumps({"arch": self.arch}, sort_keys=True).encode())
            for step in self.steps:
                digest.update(json.dumps({"engine": step.engine}).encode())
                for e in step.edits:
                    digest.update(json.dumps({**e.edit.to_dict(with_text=False), "region": e.region},
                                             sort_keys=True).encode())
                    if e.mask is not None:
                        digest.update(e.mask.quantized(16).data.tobytes())
            self._hash.append(digest.hexdigest()[:16])
        return self._hash[0]

    def describe(self) -> list[str]:
        """One line per step, for the command line and the editor."""
        lines = []
        for n, step in enumerate(self.steps, 1):
            parts = [f"{e.edit.task.value} -> {e.edit.target or 'whole image'} "
                     f"({_REGION_WORDS[e.region]}, strength {e.edit.strength:g})" for e in step.edits]
            lines.append(f"{n}. {step.text!r} [{step.engine}]: " + "; ".join(parts))
        return lines


# -- reading -------------------------------------------------------------------------------------
def parse_recipe(data: Any, *, source: str = "recipe",
                 read_mask: Callable[[str], bytes] | None = None) -> Recipe:
    """A validated :class:`Recipe` from plain data; ``read_mask(ref)`` returns the PNG bytes of a
    ``{"mask": ref}`` region. Every problem is a one-line :class:`RecipeError` naming its place."""
    if not isinstance(data, Mapping):
        raise RecipeError(f"{source}: a recipe must be an object with 'format' and 'steps'")
    _no_unknown(data, {"format", "name", "fusion", "steps"}, source)
    if data.get("format") != FORMAT:
        raise RecipeError(f"{source}: not a TeRF Studio recipe (format {data.get('format')!r}, expected {FORMAT!r})")
    fusion = data.get("fusion", {})
    if not isinstance(fusion, Mapping):
        raise RecipeError(f"{source}: 'fusion' must be an object like {{\"arch\": \"lite\"}}")
    _no_unknown(fusion, {"arch"}, f"{source}: fusion")
    arch = fusion.get("arch", "lite")
    from terf_studio.fusion.network import CONFIGS

    if arch not in CONFIGS:
        raise RecipeError(f"{source}: unknown fusion network {arch!r} (choose {', '.join(CONFIGS)})")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise RecipeError(f"{source}: 'steps' must be a non-empty list")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise RecipeError(f"{source}: 'name' must be text")
    parsed = tuple(_parse_step(s, f"{source}: step {n}", read_mask) for n, s in enumerate(steps, 1))
    return Recipe(parsed, arch=arch, name=name, source=source)


def _parse_step(data: Any, where: str, read_mask: Callable[[str], bytes] | None) -> RecipeStep:
    if not isinstance(data, Mapping):
        raise RecipeError(f"{where}: a step must be an object with 'edits'")
    _no_unknown(data, {"text", "engine", "edits"}, where)
    text = data.get("text", "")
    engine = _LEGACY_ENGINES.get(data.get("engine", "auto"), data.get("engine", "auto"))
    if not isinstance(text, str):
        raise RecipeError(f"{where}: 'text' must be text")
    if engine not in ENGINE_CHOICES:
        raise RecipeError(f"{where}: unknown engine {engine!r} (choose {', '.join(ENGINE_CHOICES)})")
    edits = data.get("edits")
    if not isinstance(edits, list) or not edits:
        raise RecipeError(f"{where}: 'edits' must be a non-empty list")
    parsed = tuple(_parse_edit(e, f"{where}, edit {m}", read_mask) for m, e in enumerate(edits, 1))
    return RecipeStep(text or " and ".join(e.edit.task.value for e in parsed), parsed, engine)


def _parse_edit(data: Any, where: str, read_mask: Callable[[str], bytes] | None) -> RecipeEdit:
    if not isinstance(data, Mapping):
        raise RecipeError(f"{where}: an edit must be an object with 'task'")
    fields = {k: v for k, v in data.items() if k != "region"}
    try:
        edit = Edit.from_dict(fields)
    except (ValueError, TypeError) as exc:
        raise RecipeError(f"{where}: {exc}") from None
    region = data.get("region", "find" if edit.target else "whole")
    if isinstance(region, Mapping):
        _no_unknown(region, {"mask", "mask_png"}, f"{where}: region")
        return RecipeEdit(edit, "mask", _region_mask(region, where, read_mask, edit.target or ""))
    if region not in ("find", "whole"):
        raise RecipeError(f"{where}: region must be \"find\", \"whole\" or {{\"mask\": FILE}}, not {region!r}")
    if region == "find" and not edit.target:
        raise RecipeError(f"{where}: region \"find\" needs a target to find")
    return RecipeEdit(edit, region)


def _region_mask(region: Mapping[str, Any], where: str, read_mask: Callable[[str], bytes] | None,
                 label: str) -> Mask:
    if ("mask" in region) == ("mask_png" in region):
        raise RecipeError(f"{where}: a mask region has either 'mask' (a file) or 'mask_png' (inline)")
    if "mask_png" in region:
        try:
            data = base64.b64decode(str(region["mask_png"]), validate=True)
        except (binascii.Error, ValueError):
            raise RecipeError(f"{where}: the inline mask is not base64 data") from None
    else:
        ref = region["mask"]
        if not isinstance(ref, str) or not ref:
            raise RecipeError(f"{where}: 'mask' must name a PNG file")
        if read_mask is None:
            raise RecipeError(f"{where}: the mask file {ref!r} cannot be read from here")
        data = read_mask(ref)
    try:
        mask = Mask.from_png_bytes(data)
    except ValueError as exc:
        raise RecipeError(f"{where}: the mask is not usable ({exc})") from None
    if mask.is_empty:
        raise RecipeError(f"{where}: the mask is empty (all black): it would change nothing")
    return mask if mask.label else mask.with_meta(label=label)


def _no_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise RecipeError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def load_recipe(path: str | os.PathLike) -> Recipe:
    """A recipe from a ``.json``/``.yaml``/``.yml`` file or a ``.terf`` project."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe '{path}' not found")
    if path.suffix.lower() == ".terf":
        from terf_studio.document.project import read_project_recipe

        return read_project_recipe(path)
    if path.stat().st_size > MAX_RECIPE_BYTES:
        raise RecipeError(f"recipe '{path}' is larger than {MAX_RECIPE_BYTES // 1024**2} MB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError(f"recipe '{path}' is not UTF-8 text") from None
    except OSError as exc:
        raise RecipeError(f"cannot read recipe '{path}': {exc.strerror or exc}") from None
    data = _parse_text(text, path)

    def read_mask(ref: str) -> bytes:
        mask_path = (path.parent / ref)
        if not mask_path.is_file():
            raise RecipeError(f"{path}: mask file '{mask_path}' not found")
        return mask_path.read_bytes()

    return parse_recipe(data, source=str(path), read_mask=read_mask)


def _parse_text(text: str, path: Path) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            raise RecipeError(f"recipe '{path}' is not valid YAML{at}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"recipe '{path}' is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise RecipeError(f"recipe '{path}' is nested too deeply") from None


def save_recipe(recipe: Recipe, path: str | os.PathLike) -> Path:
    """Write ``recipe`` as one JSON file (masks inline), replaced only once complete."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise RecipeError(f"a recipe is saved as .json, not '{path.name}'")
    from terf_studio.imaging.io import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(recipe.to_dict(), indent=1).encode("utf-8"), what="recipe")
    return path


# -- from a session ------------------------------------------------------------------------------
def recipe_from_steps(steps: Sequence[Step], arch: str, name: str = "") -> Recipe:
    """The recipe of the applied ``steps``: a step that changed the previous step's strength
    replaces it (it was rendered from the image before that step)."""
    kept: list[RecipeStep] = []
    for step in steps:
        if not step.edits:
            continue
        if _replaces_previous(step) and kept:
            kept.pop()
        edits = tuple(_recipe_edit(applied.edit, applied.mask, applied.info) for applied in step.edits)
        engines = {_LEGACY_ENGINES.get(str(a.info.get("engine", "auto")), str(a.info.get("engine", "auto")))
                   for a in step.edits}
        engine = engines.pop() if len(engines) == 1 else "auto"
        engine = engine if engine in ENGINE_CHOICES else "auto"
        kept.append(RecipeStep(STRENGTH_SUFFIX.sub("", step.text), edits, engine))
    if not kept:
        raise RecipeError("there are no applied edits to make a recipe of")
    return Recipe(tuple(kept), arch=arch, name=name)


def recipe_from_session(session: EditSession, name: str = "") -> Recipe:
    return recipe_from_steps(session.steps[: session.cursor], session.fuser.arch, name)


def _replaces_previous(step: Step) -> bool:
    return bool(step.edits[0].info.get("replaces_previous")) or bool(STRENGTH_SUFFIX.search(step.text))


def _recipe_edit(edit: Edit, mask: Mask | None, info: Mapping[str, Any]) -> RecipeEdit:
    if mask is None:
        return RecipeEdit(edit, "whole" if not edit.target else "find")
    finder = str(info.get("finder") or mask.source)
    if finder in USER_MASK_SOURCES or not edit.target:
        return RecipeEdit(edit, "mask", mask)
    return RecipeEdit(edit, "find")
