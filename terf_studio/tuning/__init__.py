"""The fine-tuning tasks of TeRF (paper section 2.4) and the composite of region edits (eq. 5).

No Qt here: the session, the command line and the GUI all call :func:`run_task`.
"""

from terf_studio.tuning.composite import blend, composite, feather, paste
from terf_studio.tuning.control import CancelToken, ProgressFn
from terf_studio.tuning.region import Box, bounding_box
from terf_studio.tuning.tasks import (
    EXACT_ITERATIONS,
    QUICK_ITERATIONS,
    TASKS,
    TaskResult,
    TaskState,
    continues,
    run_task,
    task_name,
)

__all__ = [
    "EXACT_ITERATIONS",
    "QUICK_ITERATIONS",
    "TASKS",
    "Box",
    "CancelToken",
    "ProgressFn",
    "TaskResult",
    "TaskState",
    "blend",
    "bounding_box",
    "composite",
    "continues",
    "feather",
    "paste",
    "run_task",
    "task_name",
]
