"""`python -m curation.release ...` (see build.py)."""

import sys

from curation.release.build import main

if __name__ == "__main__":
    sys.exit(main())
