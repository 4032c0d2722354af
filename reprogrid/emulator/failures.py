"""Why nodes failed, grouped: the reason each failed run's own record gives (``error_type:
message``), else the scheduler's reason with job ids taken out, so that five runs failing the
same way read as one reason ("5 of 5: CommandFailed: exit 1 ... train.py") rather than five.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

from reprogrid import tree
from reprogrid.core.reasons import general_reason
from reprogrid.job import record

#: at most this many failed runs' records are read (a file each)
RECORDS_READ = 500


def record_reason(submit_dir: Path, run_id: str) -> Optional[str]:
    """``error_type: error_message`` of the run's failed record in ``results/``, if it left one."""
    stem = submit_dir / tree.result_stem(run_id)
    for suffix in (".parquet", ".json"):
        path = str(stem) + suffix
        if not os.path.isfile(path):
            continue
        try:
            rec = record.read_record(path)
        except Exception:  # an unreadable record is gather's to report; here it just has no reason
            return None
        if rec.get("status") == "failed" and rec.get("error_type"):
            return f"{rec['error_type']}: {rec.get('error_message') or ''}".strip()
    return None


def grouped_reasons(submit_dir: Optional[Path], failed: Sequence[str],
                    reasons: Mapping[str, str]) -> List[Tuple[str, int]]:
    """(reason, number of failed nodes) for every distinct reason, commonest first."""
    counts: Counter = Counter()
    for i, node in enumerate(failed):
        # each record is a file read: the first RECORDS_READ say why; beyond that, the scheduler's reason
        why = record_reason(submit_dir, node) if submit_dir is not None and i < RECORDS_READ else None
        counts[general_reason(why or reasons.get(node) or "no reason recorded", node)] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
