import sys

from terf_studio.cli import main

sys.exit(main())
