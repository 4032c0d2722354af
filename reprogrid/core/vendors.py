"""Vendor names: how a recorded CPU ``vendor_id`` (``AuthenticAMD``), a GPU name or a vendor
word in a hardware environment's name is read as one vendor (the report's hardware check
and the planner read vendors the same way)."""
from __future__ import annotations

from typing import Any, Optional

#: vendor names a recorded CPU vendor or GPU name is read as (``GenuineIntel`` -> intel)
VENDORS = ("intel", "amd", "nvidia", "arm", "apple")


def vendor_of(text: Any) -> Optional[str]:
    """The vendor a recorded CPU ``vendor_id`` (``AuthenticAMD``), GPU name or vendor word
    names, lower case; None when it names none of :data:`VENDORS`."""
    low = str(text or "").lower()
    return next((v for v in VENDORS if v in low), None)
