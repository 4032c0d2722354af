"""``python -m reprogrid`` runs the command line."""
import sys

from reprogrid.cli import main

sys.exit(main())
