"""`python -m skyql.emulator`: the same as `skyql emulator`."""

import sys

from skyql.emulator.cli import main

sys.exit(main())
