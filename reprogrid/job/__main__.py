"""``python -m reprogrid.job`` (and the zipapp's entry point): the job's command line."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
