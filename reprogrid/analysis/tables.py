"""Alias of ``reprogrid.analysis`` (the analysis was one module, ``tables``; now a package).

Older notebooks import ``reprogrid.analysis.tables``; everything it had is re-exported.
"""
from reprogrid.analysis import *  # noqa: F401,F403
from reprogrid.analysis import __all__  # noqa: F401
