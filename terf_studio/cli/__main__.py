"""``python -m terf_studio.cli``: the same as the ``terf-studio`` command."""

import sys

from terf_studio.cli import main

sys.exit(main())
