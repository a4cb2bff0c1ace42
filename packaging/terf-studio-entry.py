"""The desktop bundle's entry point (packaging/terf-studio.spec): the ``terf-studio`` command line,
which opens the editor when it is given no command."""

import multiprocessing
import sys

from terf_studio.cli import main

if __name__ == "__main__":
    # `batch` runs pairs in spawned worker processes; in a bundle they re-enter this executable.
    multiprocessing.freeze_support()
    sys.exit(main())
