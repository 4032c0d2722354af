"""Planning: which hardware (and software) environments can move a result, on the pool you have.

``evidence`` (weights from outcome-group explanations, the stored reference table),
``kinds`` (slots -> the values a plan covers), ``pins`` (candidate pins, rendered and
matched for real), ``choose`` (the greedy rule), ``planner`` (the order of the work),
``pilot`` (``--after``), ``software`` (``--software``), ``output`` (YAML, table,
``--into``). Sits above ``analysis`` and below ``commands``; nothing lower imports it.
"""
