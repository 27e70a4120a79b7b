"""`python -m training.evaluate ...` (see cli.py)."""

import sys

from training.evaluate.cli import main

if __name__ == "__main__":
    sys.exit(main())
