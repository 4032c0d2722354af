"""The retrospective part of the crate: what ran. One ``CreateAction`` per run (its times,
status, container, the fingerprint of the machine as ``PropertyValue``s, its record), one
``ControlAction`` per DAG node, the gather node's action, the study run's action (the DAG
as instrument, the dataset, report and answer as results) and the ``OrganizeAction`` of
the engine that orchestrated them.

A run whose record says it failed, or that returned no record, is a failed action
(``FailedActionStatus``) with its error.
"""
from __future__ import annotations

import json
import logging
import math
from typing import Any, Dict, Iterable, List, Optional

from reprogrid.export.sources import Sources
from reprogrid.export.workflow import GATHER_STEP, REPROGRID, env_values, ref, refs

log = logging.getLogger(__name__)

COMPLETED = "http://schema.org/CompletedActionStatus"
FAILED = "http://schema.org/FailedActionStatus"
STUDY_RUN = "#study-run"
ENGINE_RUN = "#engine-run"
GATHER_RUN = "#run/gather"
#: Record columns that describe where and with what a run ran (the fingerprint, flattened).
FINGERPRINT_COLUMNS = (
    "cpu_vendor", "cpu_model", "cpu_family", "cpu_model_number", "microarch", "has_avx2", "has_avx512f", "cpu_count",
    "gpu_count", "gpu_name", "gpu_driver", "gpu_capability", "gpu_memory_mb", "python_version", "tensorflow_version",
    "keras_version", "keras_backend", "numpy_version", "jax_version", "torch_version", "cuda_version", "cudnn_version",
    "os_name", "kernel", "container_image", "container_runtime", "glidein_site", "glidein_resource", "machine_name",
    "onednn_enabled", "intra_op_pool", "inter_op_pool", "condor_cluster_id", "condor_proc_id",
)
#: Record columns of the run's outcome, kept with its action.
OUTCOME_COLUMNS = ("primary_metric", "primary_value", "predictions_sha256", "weights_sha256")
#: The attribute the emulated schedd adds to its machine ads (the job copies it into its fingerprint).
EMULATED_MARKER = "ReprogridEmulated"


def _present(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not (isinstance(value, float) and math.isnan(value)) and str(value) not in ("<NA>", "nan", "")
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def records_by_run(df: Any) -> Dict[str, Dict[str, Any]]:
    """Each run's record as a dict (the last one where gather kept several)."""
    if df is None or not len(df):
        return {}
    return {str(r["run_id"]): r for r in df.to_dict("records")}


def run_action(run: Dict[str, Any], record: Optional[Dict[str, Any]], sources: Sources, *, tool_id: str,
               image_id: Optional[str], inputs: List[str], result_file: Optional[str], detail: Optional[str]) -> List[Dict[str, Any]]:
    """One run's CreateAction and its PropertyValues."""
    run_id = run["run_id"]
    action_id = f"#run/{run_id}"
    action: Dict[str, Any] = {
        "@id": action_id, "@type": "CreateAction", "name": f"run {run_id}", "instrument": ref(tool_id),
        "object": refs(inputs), "description": (f"workload {run['workload']}, software {run['software_env']}, "
                                                f"hardware {run['hardware_env']}, repeat {run['repeat']}, seed {run['seed']}"),
    }
    values: List[Dict[str, Any]] = []
    emulated = record is not None and is_emulated(record.get("fingerprint_json"))
    if image_id and not emulated:
        action["containerImage"] = ref(image_id)
    if record is None:
        action["actionStatus"] = ref(FAILED)
        action["error"] = sources.scrub(f"no result record was returned ({detail or 'the job failed or did not run'})")
        return [action]
    if emulated:  # the dry run ran the job in this machine's Python, not in the spec's image
        stack = local_stack(record)
        action["description"] += f"; emulated: ran in a local Python ({stack}), not in the container image"
        values += [{"@id": f"{action_id}/emulated", "@type": "PropertyValue", "name": "emulated", "value": True,
                    "description": "run by reprogrid dryrun's emulated schedd on the exporting machine"},
                   {"@id": f"{action_id}/local_stack", "@type": "PropertyValue", "name": "local_stack", "value": stack}]
    for key, column in (("startTime", "started_at"), ("endTime", "finished_at")):
        if _present(record.get(column)):
            action[key] = str(record[column])
    if result_file:
        action["result"] = [ref(result_file)]
    if record.get("status") == "ok":
        action["actionStatus"] = ref(COMPLETED)
    else:
        action["actionStatus"] = ref(FAILED)
        action["error"] = sources.scrub(f"{record.get('error_type') or 'failed'}: {record.get('error_message') or ''}".strip())
    fingerprint = [(c, record.get(c)) for c in FINGERPRINT_COLUMNS + OUTCOME_COLUMNS if _present(record.get(c))]
    for name, value in fingerprint:
        values.append({"@id": f"{action_id}/{name}", "@type": "PropertyValue", "name": name,
                       "value": sources.scrub(_plain(value)) if isinstance(_plain(value), str) else _plain(value)})
    if values:
        action["additionalProperty"] = refs(v["@id"] for v in values)
    env = _fingerprint_env(record.get("fingerprint_json"))
    if env:
        env_pvs = env_values(f"{action_id}/env", env)
        action["environment"] = refs(v["@id"] for v in env_pvs)
        values.extend(env_pvs)
    if _present(record.get("time_total_s")):
        usage = {"@id": f"{action_id}/usage/time_total_s", "@type": "PropertyValue", "name": "wall time of the run",
                 "propertyID": "time_total_s", "value": float(record["time_total_s"]), "unitCode": "s"}
        action["resourceUsage"] = ref(usage["@id"])
        values.append(usage)
    return [action] + values


def is_emulated(fingerprint_json: Any) -> bool:
    """Whether the run's fingerprint carries the emulated schedd's ``ReprogridEmulated`` marker."""
    if not _present(fingerprint_json):
        return False
    try:
        data = json.loads(str(fingerprint_json))
    except ValueError:
        return False
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get(EMULATED_MARKER) is True:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def local_stack(record: Dict[str, Any]) -> str:
    """The local stack an emulated run used, from its record (``python 3.11.7, numpy 1.26.4``)."""
    parts = [(name, record.get(f"{name}_version")) for name in ("python", "tensorflow", "keras", "numpy", "jax", "torch")]
    return ", ".join(f"{name} {_plain(v)}" for name, v in parts if _present(v)) or "unrecorded"


def _fingerprint_env(text: Any) -> Dict[str, Any]:
    if not _present(text):
        return {}
    try:
        env = json.loads(text).get("env") or {}
    except (ValueError, AttributeError):
        return {}
    return env if isinstance(env, dict) else {}


def control_action(node: str, action_id: str) -> Dict[str, Any]:
    """The DAG node's execution: its step, and the action of the tool it ran."""
    return {"@id": f"#control/{node}", "@type": "ControlAction", "name": f"orchestrate DAG node {node}",
            "instrument": ref(f"#step/{node}"), "object": ref(action_id)}


def gather_action(gathered: bool, counts: Dict[str, Any], inputs: List[str]) -> List[Dict[str, Any]]:
    """The FINAL node: gather's action (the records in, the dataset out) and its ControlAction."""
    action: Dict[str, Any] = {"@id": GATHER_RUN, "@type": "CreateAction", "name": "gather the records into the dataset",
                              "instrument": ref("gather.sub"), "object": refs(inputs),
                              "actionStatus": ref(COMPLETED if gathered else FAILED)}
    if gathered:
        action["result"] = [ref("dataset/")]
        action["description"] = "gather counts: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    else:
        action["error"] = "the study was not gathered"
    control = {"@id": "#control/gather", "@type": "ControlAction", "name": "orchestrate DAG node gather",
               "instrument": ref(GATHER_STEP), "object": ref(GATHER_RUN)}
    return [action, control]


def study_action(records: Dict[str, Dict[str, Any]], expected: int, inputs: List[str], results: List[str],
                 name: str) -> Dict[str, Any]:
    """The study's run: the DAG as instrument, the spec and data as objects, the dataset,
    report and answer as results; failed when any run failed or returned nothing."""
    starts = sorted(str(r["started_at"]) for r in records.values() if _present(r.get("started_at")))
    ends = sorted(str(r["finished_at"]) for r in records.values() if _present(r.get("finished_at")))
    failed = sum(1 for r in records.values() if r.get("status") != "ok") + max(expected - len(records), 0)
    action: Dict[str, Any] = {"@id": STUDY_RUN, "@type": "CreateAction", "name": f"run of study {name}",
                              "instrument": ref("study.dag"), "object": refs(inputs), "result": refs(results),
                              "actionStatus": ref(FAILED if failed else COMPLETED)}
    if starts:
        action["startTime"] = starts[0]
    if ends:
        action["endTime"] = ends[-1]
    if failed:
        action["error"] = f"{failed} of {expected} runs failed or returned no record"
    return action


def organize_action(control_ids: Iterable[str], start: Optional[str], end: Optional[str]) -> Dict[str, Any]:
    """The engine's orchestration: reprogrid and the scheduler, the study run as result."""
    action: Dict[str, Any] = {"@id": ENGINE_RUN, "@type": "OrganizeAction", "name": "orchestration of the study's DAG",
                              "instrument": [ref(REPROGRID), ref("#scheduler")], "result": ref(STUDY_RUN),
                              "object": refs(control_ids)}
    if start:
        action["startTime"] = start
    if end:
        action["endTime"] = end
    return action
