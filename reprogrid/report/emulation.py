"""What an emulated hardware environment reproduced of its machine, and what one host cannot.

The emulated schedd gives a job its matched machine's ad (marked ``ReprogridEmulated``),
the starter's thread variables for the slot's CPUs and TensorFlow pools sized from the
machine's ``DetectedCpus``. It cannot give the job that machine's instruction set,
microarchitecture or GPU. For each emulated hardware environment this module compares the
machine ad the job saw (kept in its fingerprint) with what the job observed, and says so
in one sentence for the report's first screen.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional

import pandas as pd


def _machine_ad(fingerprint_json: Any) -> Dict[str, Any]:
    try:
        fp = json.loads(fingerprint_json) if isinstance(fingerprint_json, str) else {}
        return dict(((fp.get("condor") or {}).get("machine")) or {})
    except (ValueError, TypeError, AttributeError):
        return {}


def _isa(microarch: Optional[str], avx512: Any) -> str:
    return f"{microarch or '?'}{', AVX-512' if _true(avx512) else ''}"


def _true(value: Any) -> bool:
    """True for True and numpy's True (a DataFrame row's bool), False for missing values."""
    return _present(value) and bool(value)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


def emulation_limits(df: pd.DataFrame) -> List[str]:
    """One sentence per emulated hardware environment: emulated here, and not emulated."""
    if df is None or df.empty or "fingerprint_json" not in df.columns or "hardware_env" not in df.columns:
        return []
    ok = df[df["status"].astype(str) == "ok"] if "status" in df.columns else df
    ok = ok[[c for c in ("hardware_env", "fingerprint_json", "microarch", "has_avx512f", "cpu_model", "gpu_name")
             if c in ok.columns]]  # what the sentences read: no copy of the wide frame
    lines = []
    for row in ok.drop_duplicates("hardware_env").sort_values("hardware_env").itertuples(index=False):
        ad = _machine_ad(getattr(row, "fingerprint_json", None))
        if ad.get("ReprogridEmulated") is not True:
            continue
        lines.append(_sentence(str(row.hardware_env), ad, row._asdict()))
    return lines


def _sentence(env: str, ad: Mapping[str, Any], seen: Mapping[str, Any]) -> str:
    cpus = ad.get("DetectedCpus") or ad.get("TotalCpus")
    emulated = [f"its host's {cpus} logical CPUs sizing TensorFlow's default thread pools" if cpus else None,
                "the starter's thread variables (OMP_NUM_THREADS...) set to the slot's CPUs"]
    model = ad.get("OSGVO_CPU_MODEL") or ad.get("CpuModel") or f"family {ad.get('CpuFamily')} model {ad.get('CpuModelNumber')}"
    want_isa = _isa(ad.get("Microarch"), ad.get("has_avx512f"))
    got_isa = _isa(seen.get("microarch"), seen.get("has_avx512f"))
    not_emulated = [f"microarchitecture of {model} (ran {seen.get('cpu_model') or 'this CPU'})"]
    if want_isa != got_isa:
        not_emulated.insert(0, f"instruction set {want_isa} (ran {got_isa} here)")
    else:  # the host has the requested level: nothing to emulate, nothing to warn about
        emulated.append(f"instruction set {want_isa} (this host has the same level)")
    gpu = ad.get("GPUs_DeviceName")
    if _present(gpu):
        got = seen.get("gpu_name")
        not_emulated.append(f"GPU {gpu} (ran {got if _present(got) else 'without a GPU'})")
    else:
        not_emulated.append("GPU: none requested")
    return (f"{env} (emulated): reproduces {'; '.join(e for e in emulated if e)}. One host cannot reproduce its "
            f"{'; '.join(not_emulated)}; nor, for Keras on JAX, XLA's pool (sized from this host's CPUs).")


__all__ = ["emulation_limits"]
