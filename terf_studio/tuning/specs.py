"""The registry of tasks: one :class:`TaskSpec` per task, the single place a task is described.

A spec names the task (the same values as :class:`terf_studio.language.plan.Task`, the one
enumeration both the parser and the tuning side use), its modes, its iteration counts for the
fine-tuning engines, the model file of its fast engine and the measure the benchmarks use to
check it moves the image the way its name says.

Engines (see :mod:`terf_studio.tuning.engines`):

==========  ==========================================================================
``fast``    weights trained once, offline; an edit is one or a few forward passes
``quick``   the paper's test-time fine-tuning with the shortened counts below
``exact``   the paper's test-time fine-tuning with the paper's counts (section 3.1.2)
==========  ==========================================================================

Brighten / darken fine-tune from units trained once over many images (``illumination-start``)
when they are installed (a warm start, with the ``warm_*`` counts): they already fit an image's own
Retinex loss about as well as 500 iterations from scratch (numbers in
:mod:`terf_studio.tuning.illumination`).

``auto`` picks ``fast`` on a CPU and ``quick`` on CUDA (where fine-tuning takes seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from terf_studio.errors import TerfError
from terf_studio.language.plan import Task
from terf_studio.tuning import blur as blur_mod
from terf_studio.tuning import denoise as denoise_mod
from terf_studio.tuning import illumination as illum_mod
from terf_studio.tuning import inclination as incl_mod

ENGINES: tuple[str, ...] = ("fast", "quick", "exact")
ENGINE_CHOICES: tuple[str, ...] = ("auto", *ENGINES)
ENGINE_LABELS = {
    "auto": "Automatic (fast on a CPU, fine-tuning on CUDA)",
    "fast": "Fast (trained engines, about a second)",
    "quick": "Fine-tune (the paper's method, shortened counts)",
    "exact": "Exact (the paper's method and counts)",
}


@dataclass(frozen=True)
class TaskSpec:
    """Everything the rest of the code needs to know about one task."""

    name: str
    description: str
    modes: tuple[str | None, ...] = (None,)
    default_mode: str | None = None
    exact_iterations: int = 0
    quick_iterations: int = 0
    iterations_scale_with_strength: bool = False  # else the strength sets a parameter (gamma, sigma)
    #: Model (registry name) the fine-tuning engines start from when it is installed (a warm
    #: start), and their counts then; None: they always start from scratch.
    warm_model: str | None = None
    warm_quick_iterations: int = 0
    warm_exact_iterations: int = 0
    #: Model registry name of the fast engine's weights; "fast-inclination" names a family: the
    #: file made for the fusion network in use, fast-inclination-<arch> (tuning.runners.fast_module).
    fast_model: str | None = None
    trains: bool = True  # False: nothing is optimised by any engine (blur)
    measure: str = ""  # the direction measure of the benchmarks (terf_studio.bench.edit)

    def check_mode(self, mode: str | None) -> str | None:
        mode = self.default_mode if mode is None else mode
        if mode not in self.modes:
            allowed = ", ".join(m for m in self.modes if m) or "none"
            raise TerfError(f"task '{self.name}' has no mode {mode!r} (modes: {allowed})")
        return mode


_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec("infrared", "lean towards the infrared image", exact_iterations=incl_mod.EXACT_EPOCHS,
             quick_iterations=45, iterations_scale_with_strength=True, fast_model="fast-inclination",
             measure="closer to infrared"),
    TaskSpec("visible", "lean towards the visible image", exact_iterations=incl_mod.EXACT_EPOCHS,
             quick_iterations=45, iterations_scale_with_strength=True, fast_model="fast-inclination",
             measure="closer to visible"),
    TaskSpec("brighten", "raise the illumination (gamma < 1)", exact_iterations=illum_mod.EXACT_ITERATIONS,
             quick_iterations=400, fast_model="fast-illumination", measure="brighter",
             warm_model="illumination-start", warm_quick_iterations=illum_mod.WARM_QUICK_ITERATIONS,
             warm_exact_iterations=illum_mod.WARM_EXACT_ITERATIONS),
    TaskSpec("darken", "lower the illumination (gamma > 1)", exact_iterations=illum_mod.EXACT_ITERATIONS,
             quick_iterations=400, fast_model="fast-illumination", measure="darker",
             warm_model="illumination-start", warm_quick_iterations=illum_mod.WARM_QUICK_ITERATIONS,
             warm_exact_iterations=illum_mod.WARM_EXACT_ITERATIONS),
    TaskSpec("denoise", "remove noise", modes=denoise_mod.MODES, default_mode="visible",
             exact_iterations=denoise_mod.EXACT_ITERATIONS, quick_iterations=80,
             iterations_scale_with_strength=True, fast_model="fast-denoise", measure="less noise"),
    TaskSpec("blur", "blur or pixelate (redaction)", modes=blur_mod.MODES, default_mode="gaussian",
             trains=False, measure="smoother"),
)

TASK_SPECS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}
if set(TASK_SPECS) != {t.value for t in Task}:  # the parser and the tuning side must agree
    raise RuntimeError("terf_studio.tuning.specs and terf_studio.language.plan.Task list different tasks")


def get_spec(task: object) -> TaskSpec:
    """The spec of a task given as a name or a :class:`Task`."""
    value = task.value if isinstance(task, Task) else task
    if not isinstance(value, str) or value not in TASK_SPECS:
        raise TerfError(f"unknown task {task!r}; expected one of {', '.join(TASK_SPECS)}")
    return TASK_SPECS[value]


def check_engine(engine: str) -> str:
    if engine not in ENGINE_CHOICES:
        raise TerfError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_CHOICES)}")
    return engine
