"""Requested versus observed hardware (loose pins, emulation) and what the data are (provenance)."""
from __future__ import annotations

from typing import List, Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd
import re

from reprogrid.analysis.columns import _distinct, prepare


def hardware_check(df: pd.DataFrame) -> pd.DataFrame:
    """What each requested hardware environment was observed to be, and where they disagree.

    Columns: ``hardware_env``, ``device_class`` (observed), ``observed`` (distinct CPU
    models / GPU names seen), ``n_machines``, ``loose_pin`` (more than one kind of machine
    answered the request), ``name_mismatch`` (the model numbers in the environment's name,
    such as ``7302`` or ``a100``, are not in the observed model: the request was not what
    ran, e.g. an emulated dry run), ``shared`` (other hardware environments observed the
    same machine) and ``agrees``.
    """
    df = prepare(df)
    keys = ["hardware_env", "observed_machine", "device_class", "observed_hardware"]
    pairs = (df[keys].groupby(keys, observed=True)
               .size().rename("n").reset_index())
    # the pairs' columns as text once; each environment takes its positions (no frame cut per environment)
    text = {c: pairs[c].astype(str).tolist() for c in ("hardware_env", "observed_machine", "device_class",
                                                      "observed_hardware")}
    envs_of: Dict[str, set] = {}  # machine -> the hardware environments that observed it
    for machine, env in zip(text["observed_machine"], text["hardware_env"]):
        envs_of.setdefault(machine, set()).add(env)
    grouped = pairs.groupby("hardware_env", observed=True, sort=True)
    number_of = grouped.ngroup().to_numpy()
    counts = pairs["n"].tolist()
    rows = []
    for number, hw in enumerate(grouped.size().index.tolist()):
        at = np.flatnonzero(number_of == number).tolist()
        observed = sorted({text["observed_hardware"][i] for i in at})
        machines = sorted({text["observed_machine"][i] for i in at})
        mismatch = _name_mismatch(str(hw), observed)
        shared = any(len(envs_of[m]) > 1 for m in machines)
        devices = sorted({text["device_class"][i] for i in at})
        rows.append(dict(hardware_env=str(hw), device_class="/".join(devices), n_runs=int(sum(counts[i] for i in at)),
                         observed="; ".join(observed), n_machines=len(machines), loose_pin=len(machines) > 1,
                         name_mismatch=mismatch, name_check=name_check(str(hw), observed), shared=shared,
                         agrees=(len(machines) == 1 and mismatch is not True)))
    return pd.DataFrame(rows, columns=["hardware_env", "device_class", "n_runs", "observed", "n_machines",
                                       "loose_pin", "name_mismatch", "name_check", "shared", "agrees"])


def name_check(name: str, observed: Sequence[str]) -> str:
    """The requested model in the name vs the observed one, in words: ``match``,
    ``mismatch``, ``cannot tell`` (the host hides its model string, e.g. "AMD EPYC" or
    "Intel(R) Xeon(R) Processor" in a VM) or ``""`` (the name carries no model number)."""
    verdict = _name_mismatch(name, observed)
    return "" if verdict is None and not _model_tokens(name) else \
        "cannot tell" if verdict is None else "mismatch" if verdict else "match"


def _names_a_model(text: str) -> bool:
    """Whether a CPU/GPU model string names a model number (7302, 6148, a100), not just a
    vendor, a family or a clock frequency."""
    return any(len(w) >= 3 and re.search(r"\d", w) and not re.search(r"\d(ghz|mhz)$", w)
               for w in re.split(r"[^a-z0-9]+", str(text).lower()))


def _model_tokens(text: str) -> List[str]:
    return [t for t in re.split(r"[-_.\s]+", text.lower()) if re.search(r"\d", t) and not re.fullmatch(r"r?\d", t)]


def _name_mismatch(name: str, observed: Sequence[str]) -> Optional[bool]:
    """True when the name's model tokens (with digits: 7302, a100, v4) are not all observed;
    None when the name has none or no observed model string names a model (cannot tell)."""
    tokens = _model_tokens(name)
    if not tokens:
        return None
    if not any(_names_a_model(text) for text in observed):
        return None  # "AMD EPYC", "Intel(R) Xeon(R) Processor @ 2.40GHz", "?": the host hides its model
    for text in observed:
        words = set(re.split(r"[^a-z0-9]+", text.lower()))
        flat = re.sub(r"[^a-z0-9]+", "", text.lower())
        if all(t in words or t.replace("-", "") in flat for t in tokens):
            return False
    return True



def _emulated(prepared: pd.DataFrame, hw: pd.DataFrame) -> set:
    """Hardware environments whose runs did not run on the requested hardware: the name's
    model is not what ran, or (without a model in the name) every machine it ran on also ran
    other environments and none of those names that machine as its own model. A loose pin
    that landed on real machines other environments pin exactly is not emulated."""
    out = set(hw.loc[hw["name_mismatch"] == True, "hardware_env"].astype(str))  # noqa: E712
    pairs = prepared[["hardware_env", "observed_machine"]].drop_duplicates().astype(str)
    matched = set(hw.loc[hw["name_check"] == "match", "hardware_env"].astype(str))
    real = set(pairs.loc[pairs["hardware_env"].isin(matched), "observed_machine"])
    for _, row in hw[(hw["shared"] == True) & (hw["name_mismatch"] != False)].iterrows():  # noqa: E712
        machines = set(pairs.loc[pairs["hardware_env"] == row["hardware_env"], "observed_machine"])
        if not machines <= real:
            out.add(str(row["hardware_env"]))
    return out


def provenance(df: pd.DataFrame, hw: Optional[pd.DataFrame] = None) -> Dict[str, Any]:
    """What the data are: runs, failures, sample or real data, emulated hardware environments.
    ``hw``: ``hardware_check`` of the same runs, when already computed (checked once per page)."""
    prepared = prepare(df)
    n = len(prepared)
    status = prepared["status"]
    sample = prepared["sample_data"]
    n_sample = int(sample.eq(True).fillna(False).sum()) if n else 0
    n_real = int(sample.eq(False).fillna(False).sum()) if n else 0
    data = ("none" if n == 0 else "sample data" if n_sample == n else "real data" if n_real == n
            else "mixed: sample and real data" if n_sample and n_real else "unknown (not recorded)")
    if not n:
        hw = pd.DataFrame(columns=["hardware_env", "name_mismatch", "shared", "n_machines"])
    elif hw is None:
        hw = hardware_check(prepared)
    emulated_envs = _emulated(prepared, hw) if n else set()
    if n and "fingerprint_json" in prepared:
        # The emulated schedd marks its machine ads; the job copies the marker into its fingerprint.
        marked = prepared["fingerprint_json"].astype("string").str.contains('"ReprogridEmulated": true', regex=False)
        emulated_envs |= set(prepared.loc[marked.fillna(False).astype(bool), "hardware_env"].astype(str))
    studies = _distinct(prepared["study_name"]) if "study_name" in prepared else []
    return {
        "runs": n,
        "ok": int((status == "ok").sum()),
        "failed": int((status == "failed").sum()),
        "data": data,
        "sample_runs": n_sample,
        "workloads": _distinct(prepared["workload"]),
        "software_envs": _distinct(prepared["software_env"]),
        "hardware_envs": _distinct(prepared["hardware_env"]),
        "observed_machines": _distinct(prepared["observed_machine"]),
        "emulated_hardware_envs": sorted(emulated_envs),
        "studies": studies,
    }


