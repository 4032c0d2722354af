"""reprogrid: reproducibility studies of deep-learning results on HTCondor and the OSPool.

The flow, one module per stage: ``spec`` (what to run) -> ``render`` (submit tree) ->
``emulator`` (local dry run) or the real pool -> ``job`` (inside the container) ->
``gather`` -> ``analysis`` -> ``report``; ``cli`` is a thin layer over all of them.
"""

__version__ = "0.1.0"
