"""``python -m endpoint`` runs the command line."""

import sys

from endpoint.cli import main

sys.exit(main())
