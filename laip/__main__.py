"""``python -m laip`` = the ``laip`` command."""

import sys

from laip.cli import main

sys.exit(main())
