"""One open document: the pair, its fusion, and the stack of edits with undo and redo (no Qt).

Images are held on a 16-bit grid (uint16, value / 65535): the sources, the fused image and every
edited state. That makes undo, redo and a saved-and-reopened project restore *exactly* the
same pixels, and lets each step be stored compactly as a 16-bit PNG patch of the box it changed
(see :class:`Patch`) instead of a full float copy of the image.

A step is one command (one :class:`~terf_studio.language.EditPlan`, possibly several edits);
it is applied all-or-nothing and undone as one. Repeating the same task on the same region
continues from the previous state (paper 2.4.4): the fine-tuning states of the most recent
:data:`KEPT_STATES` applied steps are kept in memory, older ones are dropped (repeating an old
edit after undoing past that point starts afresh); states are not saved in projects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from terf_studio.document.scratch import ScratchFile
from terf_studio.errors import TerfError
from terf_studio.imaging import png_stream, store
from terf_studio.language import Edit, EditPlan
from terf_studio.regions import Mask, find_region

if TYPE_CHECKING:  # torch-heavy modules, loaded by the caller anyway
    from terf_studio.fusion.inference import Fuser
    from terf_studio.tuning.control import CancelToken
    from terf_studio.tuning.region import Box
U16 = 65535.0
KEPT_STATES = 4
#: What :meth:`EditSession.set_strength` appends to a step's text (once, however often it is used).
STRENGTH_SUFFIX = re.compile(r"(?: \(strength [0-9.eE+-]+\))+$")

#: progress(step label, iteration, of, loss)
SessionProgress = Callable[[str, int, int, float], None]


def to_u16(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * U16).astype(np.uint16)


def from_u16(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / np.float32(U16)


def as_u16(image: np.ndarray) -> np.ndarray:
    """An image on the 16-bit grid: uint16 as it is, uint8 exactly (x 257), float via :func:`to_u16`."""
    if image.dtype == np.uint16:
        return image
    if image.dtype == np.uint8:
        return store.scaled_u16(image)
    return to_u16(image)


def encode_png16(image: np.ndarray) -> bytes:
    """Lossless 16-bit PNG bytes of a uint16 (H,W) or RGB (H,W,3) array."""
    data = image[..., ::-1] if image.ndim == 3 else image  # OpenCV stores BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(data), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise TerfError("could not encode an image patch as PNG")
    return buf.tobytes()


#: A patch whose pixels take at least this many bytes is encoded straight to a scratch file,
#: a band of rows at a time (never whole in memory), and decoded back the same way.
STREAM_BYTES = png_stream.STREAM_BYTES


def decode_png16(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.dtype != np.uint16:
        raise TerfError("a stored image patch is damaged or not 16-bit")
    return image[..., ::-1].copy() if image.ndim == 3 else image


#: A step's patch larger than this (PNG bytes) is kept in a scratch file instead of memory: on a
#: large document every whole-image step would otherwise add hundreds of MB to the history.
SPILL_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Patch:
    """The pixels of one step inside the box that changed: (x0, y0, x1, y1), end-exclusive.

    ``data`` is the 16-bit PNG of the box; above :data:`SPILL_BYTES` it is moved to a
    :class:`ScratchFile` and read back when needed (``png``)."""

    box: tuple[int, int, int, int]
    data: bytes | ScratchFile

    def __post_init__(self) -> None:
        if isinstance(self.data, bytes) and len(self.data) > SPILL_BYTES:
            object.__setattr__(self, "data", ScratchFile(self.data))

    @property
    def png(self) -> bytes:
        return self.data if isinstance(self.data, bytes) else self.data.read()

    @property
    def png_bytes(self) -> int:
        """The size of the patch's PNG, wherever it is kept."""
        return len(self.data) if isinstance(self.data, bytes) else self.data.size

    @property
    def memory_bytes(self) -> int:
        """Bytes held in memory (0 when the PNG is in a scratch file)."""
        return len(self.data) if isinstance(self.data, bytes) else 0

    @classmethod
    def between(cls, before: np.ndarray, after: np.ndarray,
                within: tuple[int, int, int, int] | None = None) -> Patch | None:
        """The pixels of ``after`` where it differs from ``before``, in their bounding box; only
        the box ``within`` (x0, y0, x1, y1) is compared when the caller knows nothing changed
        outside it (a task's work box), so the cost follows the edit, not the image."""
        x0, y0, x1, y1 = within if within is not None else (0, 0, before.shape[1], before.shape[0])
        changed_rows = np.zeros(max(y1 - y0, 0), bool)
        changed_cols = np.zeros(max(x1 - x0, 0), bool)
        for top in range(y0, y1, store.BAND_ROWS):  # a band at a time: no whole-image temporaries
            bottom = min(top + store.BAND_ROWS, y1)
            b, a = before[top:bottom, x0:x1], after[top:bottom, x0:x1]
            changed = np.any(b != a, axis=2) if b.ndim == 3 else b != a
            changed_rows[top - y0 : bottom - y0] = changed.any(axis=1)
            changed_cols |= changed.any(axis=0)
        rows, cols = np.nonzero(changed_rows)[0], np.nonzero(changed_cols)[0]
        if rows.size == 0:
            return None
        box = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
        pixels = after[box[1] : box[3], box[0] : box[2]]
        if pixels.nbytes >= STREAM_BYTES:
            return cls(box, ScratchFile(lambda f: png_stream.write_png(f, pixels)))
        return cls(box, encode_png16(pixels))

    def apply_to(self, image: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.box
        out = store.copy_of(image)
        self.decode_into(out[y0:y1, x0:x1])
        return out

    def decode_into(self, target: np.ndarray) -> None:
        """Write the patch's pixels into ``target`` (its box's view of an image); a patch in a
        scratch file is read a band of rows at a time."""
        if isinstance(self.data, ScratchFile):
            with self.data.open() as f:
                try:
                    png_stream.read_png_into(f, target)
                    return
                except png_stream.UnsupportedPng:
                    pass  # written by another encoder: decoded whole below
                except ValueError as exc:
                    raise TerfError(f"a stored image patch is damaged ({exc})") from None
        pixels = decode_png16(self.png)
        if pixels.shape != target.shape:
            raise TerfError("a stored image patch does not match its box")
        target[...] = pixels


@dataclass
class AppliedEdit:
    """One edit of a step: what was asked, where, and what the task reported.

    The mask is kept as 16-bit PNG bytes (a few kB instead of 1.2 MB of float32 at 640x480).
    """

    edit: Edit
    mask_png: bytes | None  # None: the whole image
    info: dict[str, Any] = field(default_factory=dict)  # finder, iterations, seconds, params ...
    state: Any = None  # the task's continuation state (memory only)

    @property
    def mask(self) -> Mask | None:
        return None if self.mask_png is None else Mask.from_png_bytes(self.mask_png)


@dataclass
class Step:
    """One command applied to the image: undone and redone as a unit."""

    text: str
    edits: list[AppliedEdit]
    patch: Patch | None
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "edits": [{**e.edit.to_dict(), **e.info} for e in self.edits],
            "box": list(self.patch.box) if self.patch else None,
            "seconds": round(self.seconds, 3),
        }


def _union(box: tuple[int, int, int, int] | None, work: Box) -> tuple[int, int, int, int] | None:
    """``box`` (x0, y0, x1, y1) grown to hold a task's work box (an empty one, when the task
    changed nothing, leaves ``box`` as it was)."""
    if work.area == 0:
        return box
    x0, y0, x1, y1 = work.left, work.top, work.right, work.bottom
    if box is None:
        return (x0, y0, x1, y1)
    return (min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1))


class EditSession:
    """The pair, the fused image (computed once), and the step stack.

    ``fuser`` is a loaded :class:`~terf_studio.fusion.Fuser`; it fuses the pair when no fused
    image is given and its network is the starting point of the inclination tasks.
    """

    def __init__(
        self,
        vi: np.ndarray,
        ir: np.ndarray,
        fuser: Fuser,
        fused: np.ndarray | None = None,
        vi_path: str | None = None,
        ir_path: str | None = None,
    ) -> None:
        self.vi16 = store.kept(as_u16(vi))
        self.ir16 = store.kept(as_u16(ir))
        self.fuser = fuser
        self.vi_path, self.ir_path = vi_path, ir_path
        if fused is None:
            # Straight from and into the 16-bit arrays (the fusion converts a tile at a time): the
            # same values as to_u16(fuse(from_u16(...))) without float copies of the whole pair.
            out = store.empty((*self.ir16.shape[:2], 3), np.uint16)
            fused = fuser.fuse(self.vi16, self.ir16, out=out)
        self.base16 = store.kept(as_u16(fused))  # a uint8 fused image goes onto the grid exactly (x 257)
        self.steps: list[Step] = []
        self.cursor = 0  # steps[:cursor] are applied
        self._current16 = self.base16
        #: The document's mask layers (painted, clicked, found): what the user sees and edits.
        #: Edits keep their own copy of the mask they used, so changing a layer never
        #: changes the history.
        self.masks: list[Mask] = []
        self._pair_id: str | None = None

    @classmethod
    def open(
        cls,
        vi_path: str | Path,
        ir_path: str | Path,
        arch: str = "lite",
        weights: str | None = None,
        device: str = "auto",
        resize_ir: bool = False,
    ) -> EditSession:
        from terf_studio.fusion import load_fuser
        from terf_studio.imaging import read_pair

        vi, ir = read_pair(vi_path, ir_path, resize_ir=resize_ir, stored=True)
        return cls(vi, ir, load_fuser(arch, weights, device), vi_path=str(vi_path), ir_path=str(ir_path))

    # -- images ------------------------------------------------------------------------------
    @property
    def vi(self) -> np.ndarray:
        return from_u16(self.vi16)

    @property
    def ir(self) -> np.ndarray:
        return from_u16(self.ir16)

    @property
    def fused(self) -> np.ndarray:
        """The network's fusion before any edit."""
        return from_u16(self.base16)

    @property
    def current16(self) -> np.ndarray:
        return self._current16

    @property
    def pair_id(self) -> str:
        """The pair's fingerprint (what a continued task checks), computed once."""
        if self._pair_id is None:
            from terf_studio.tuning.region import fingerprint

            self._pair_id = fingerprint(self.vi16, self.ir16)
        return self._pair_id

    def current(self) -> np.ndarray:
        """The image with the applied steps, float32 (H,W,3) in [0, 1]."""
        return from_u16(self._current16)

    def _image_after(self, count: int) -> np.ndarray:
        """The 16-bit image after the first ``count`` steps."""
        image = self.base16
        for step in self.steps[:count]:
            if step.patch is not None:
                image = step.patch.apply_to(image)
        return image

    def _rebuild(self) -> None:
        self._current16 = self._image_after(self.cursor)

    # -- edits -------------------------------------------------------------------------------
    def find_mask(self, target: str) -> tuple[Mask, dict[str, Any]]:
        """A mask for a target phrase from the region finders (raises NoRegionFound)."""
        found = find_region(target, self.vi, self.ir, self.current())
        mask = found.mask if found.mask.label else found.mask.with_meta(label=target)
        return mask, {"finder": found.finder, "confidence": round(float(found.confidence), 3)}

    def _previous_state(self, task: str, before: int | None = None) -> Any:
        for step in reversed(self.steps[: self.cursor if before is None else before]):
            for applied in reversed(step.edits):
                if applied.edit.task.value == task and applied.state is not None:
                    return applied.state
        return None

    def apply(
        self,
        plan: EditPlan | Sequence[Edit],
        masks: Mapping[int, Mask] | Sequence[Mask | None] | None = None,
        *,
        text: str | None = None,
        exact: bool = False,
        engine: str = "auto",
        iterations: int | None = None,
        progress: SessionProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> Step:
        """Apply every edit of ``plan`` (in order) as one step; all-or-nothing.

        ``masks[i]`` (when given) is the region of edit ``i``; otherwise an edit with a target
        gets its mask from the region finders and an edit without one covers the whole image.
        A missing region, a failure or a cancel raises and leaves the session unchanged.
        ``engine`` is ``auto`` (fast on a CPU), ``fast``, ``quick`` or ``exact``; ``exact=True``
        means ``exact``. Each edit's info records the engine that made it (and a ``notice`` when
        the fast engine's weights were missing). ``iterations`` overrides the fine-tuning count.
        """
        edits = list(plan.edits if isinstance(plan, EditPlan) else plan)
        if not edits:
            raise TerfError("the command has no edits to apply")
        given = dict(enumerate(masks)) if isinstance(masks, Sequence) else dict(masks or {})
        start = time.perf_counter()
        image16, applied, changed = self._run_edits(edits, given, self._current16,
                                                    engine="exact" if exact else engine, iterations=iterations,
                                                    progress=progress, cancel=cancel, continue_from=self.cursor)
        step = Step(text or " and ".join(e.edit.text or e.edit.task.value for e in applied), applied,
                    Patch.between(self._current16, image16, changed), time.perf_counter() - start)
        self._push(step, image16)
        return step

    def _run_edits(
        self,
        edits: Sequence[Edit],
        given: Mapping[int, Mask | None],
        image16: np.ndarray,
        *,
        engine: str,
        iterations: int | None,
        progress: SessionProgress | None,
        cancel: CancelToken | None,
        continue_from: int,
    ) -> tuple[np.ndarray, list[AppliedEdit], tuple[int, int, int, int] | None]:
        """Run ``edits`` in order on ``image16``; the first may continue a state of the steps
        before ``continue_from``. Returns the new image, the applied edits (nothing is pushed) and
        the box (x0, y0, x1, y1) outside which nothing changed (None: nothing changed).

        The tasks get the 16-bit images themselves and turn only their work box into floats."""
        from terf_studio.tuning import run_task

        applied: list[AppliedEdit] = []
        changed: tuple[int, int, int, int] | None = None
        for i, edit in enumerate(edits):
            info: dict[str, Any] = {}
            mask = given.get(i)
            if mask is None and edit.target is not None:
                mask, info = self.find_mask(edit.target)
            elif mask is not None:
                info = {"finder": mask.source}
            label = f"{edit.task.value} -> {edit.target or 'whole image'}"

            def report(it: int, of: int, loss: float, label: str = label) -> None:
                if progress is not None:
                    progress(label, it, of, loss)

            result = run_task(
                edit.task.value,
                vi=self.vi16,
                ir=self.ir16,
                fused=image16,
                pair_id=self.pair_id,
                mask=None if mask is None else mask.data,
                strength=edit.strength,
                fusion_net=self.fuser.net,
                state=self._previous_state(edit.task.value, continue_from) if not applied else None,
                engine=engine,
                iterations=iterations,
                progress=report,
                cancel=cancel,
                device=self.fuser.device,
            )
            image16 = as_u16(result.image)
            changed = _union(changed, result.box)
            info.update({k: v for k, v in result.params.items() if isinstance(v, (int, float, str, bool))})
            info.update(
                iterations=result.iterations,
                seconds=round(result.seconds, 3),
                continued=result.continued,
                optimised_pixels=result.optimised_pixels,
            )
            mask_png = None if mask is None else mask.to_png_bytes(bit_depth=16)
            applied.append(AppliedEdit(edit, mask_png, info, result.state))
        return image16, applied, changed

    # -- strength of the latest step ------------------------------------------------------------
    def strength_adjustable(self) -> bool:
        """True when the latest applied step is one edit made by the fast engine, so its strength
        can be changed live; fine-tuned steps keep their strength."""
        if self.cursor == 0:
            return False
        edits = self.steps[self.cursor - 1].edits
        return len(edits) == 1 and edits[0].info.get("engine") == "fast"

    def _restrength(
        self, strength: float, cancel: CancelToken | None = None
    ) -> tuple[np.ndarray, list[AppliedEdit], Step]:
        if not self.strength_adjustable():
            raise TerfError("only the latest step, made by the fast engine, can change its strength")
        latest = self.steps[self.cursor - 1]
        # A step that changed a strength was rendered from the image before the step it changed:
        # changing it again starts from there too, not from on top of that first rendering.
        first = self.cursor - 1
        while first > 0 and self.steps[first].edits and self.steps[first].edits[0].info.get("replaces_previous"):
            first -= 1
        before = self._image_after(first)
        if strength == 0:
            return before, [], latest
        old = latest.edits[0]
        edit = replace(old.edit, strength=strength)
        image16, applied, _ = self._run_edits([edit], {0: old.mask}, before, engine="fast", iterations=None,
                                              progress=None, cancel=cancel, continue_from=first)
        applied[0].info.setdefault("finder", old.info.get("finder"))
        applied[0].info["replaces_previous"] = True  # rendered from the image before ``latest`` (recipes)
        return image16, applied, latest

    def preview_strength(self, strength: float, cancel: CancelToken | None = None) -> np.ndarray:
        """The image as it would be with the latest step at ``strength`` (nothing changes);
        float32 (H, W, 3). ``strength`` 0 shows the image before that step."""
        image16, _, _ = self._restrength(strength, cancel)
        return from_u16(image16)

    def set_strength(self, strength: float, cancel: CancelToken | None = None) -> Step:
        """Re-render the latest step at ``strength`` as a new step (undo returns to the old one)."""
        if strength <= 0:
            raise TerfError("a step's strength must be positive (undo removes it)")
        start = time.perf_counter()
        image16, applied, latest = self._restrength(strength, cancel)
        text = f"{STRENGTH_SUFFIX.sub('', latest.text)} (strength {strength:g})"
        step = Step(text, applied, Patch.between(self._current16, image16), time.perf_counter() - start)
        self._push(step, image16)
        return step

    def warm_up_fast_engines(self) -> bool:
        """Decompose the current image for the fast brighten / darken (into the engines' cache),
        so those commands are a gamma on the cached illumination. False when the fast weights are
        missing, the device is not a CPU or the image is above the cache's pixel limit
        (``retinex.CACHE_MAX_PIXELS``; those commands then decompose their crop): nothing to
        prepare then."""
        from terf_studio.errors import ModelError
        from terf_studio.tuning.engines.loader import fast_engine
        from terf_studio.tuning.engines.retinex import cacheable, prepare

        device = self.fuser.device
        if device.type != "cpu" or not cacheable(self._current16):
            return False
        try:
            units = fast_engine("fast-illumination", device)
        except ModelError:
            return False
        import torch

        # One thread: this runs in the background while the user works, so it leaves the other
        # core to the window's thread (with both, the window was held up to 111 ms on 2 cores).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            prepare(units, self._current16, device)  # keyed as the tasks key it: the 16-bit image
        finally:
            torch.set_num_threads(threads)
        return True

    def _push(self, step: Step, image16: np.ndarray) -> None:
        self.discard_redo()
        self.steps.append(step)
        self.cursor = len(self.steps)
        self._current16 = image16
        for old in self.steps[:-KEPT_STATES]:
            for applied in old.edits:
                applied.state = None

    # -- history -----------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self.cursor > 0

    @property
    def can_redo(self) -> bool:
        return self.cursor < len(self.steps)

    def undo(self) -> Step | None:
        if not self.can_undo:
            return None
        self.cursor -= 1
        self._rebuild()
        return self.steps[self.cursor]

    def redo(self) -> Step | None:
        if not self.can_redo:
            return None
        step = self.steps[self.cursor]
        if step.patch is not None:
            self._current16 = step.patch.apply_to(self._current16)
        self.cursor += 1
        return step

    def discard_redo(self) -> int:
        """Forget the undone steps (an editor calls this when a different action follows an
        undo, as :meth:`apply` does); returns how many were dropped."""
        dropped = len(self.steps) - self.cursor
        del self.steps[self.cursor :]
        return dropped

    def go_to(self, cursor: int) -> None:
        """Undo or redo to the state after ``cursor`` steps (a click in a history list)."""
        if not 0 <= cursor <= len(self.steps):
            raise TerfError(f"no history entry {cursor} (there are {len(self.steps)})")
        self.cursor = cursor
        self._rebuild()

    def history(self) -> list[dict[str, Any]]:
        return [{**s.summary(), "applied": i < self.cursor} for i, s in enumerate(self.steps)]

    def history_bytes(self) -> int:
        """Memory held by the history's pixels and masks (patches and mask PNGs; patches kept in
        scratch files do not count)."""
        total = 0
        for step in self.steps:
            total += step.patch.memory_bytes if step.patch else 0
            total += sum(len(e.mask_png) for e in step.edits if e.mask_png is not None)
        return total
