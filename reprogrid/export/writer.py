"""``export_crate``: a gathered submit folder -> a Provenance Run Crate (a folder or a .zip),
written with the ``rocrate`` library, atomically.

The crate holds the spec, the DAG and submit files, the job bundle, the workloads' files,
every run's record, the gathered dataset, the report and the analysis' answer
(``answer.json``); the runs, DAG nodes and the study run as actions (see ``actions``).
Data inputs are referenced by URL (or name) and checksum unless ``include_data``.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

from reprogrid import analysis, tree
from reprogrid.core.errors import Problem, UserError
from reprogrid.core import resources
from reprogrid.core.files import atomic_directory, temp_prefix
from reprogrid.export import actions, workflow
from reprogrid.export.sources import (GATHER_REPORT, REPORT_DIR, Sources, is_source, is_text, read_sources, scrub_parquet,
                                      scrub_paths, scrubbed_report, secrets_in)
from reprogrid.job import samples
from reprogrid.core.naming import slug

log = logging.getLogger(__name__)

ANSWER_FILE = "answer.json"
METADATA_FILE = "ro-crate-metadata.json"
DATA_DIR = "data"
NO_LICENSE = "no licence given: the study spec names none (its authors can add `license:` and export again)"


def export_crate(submit_dir: Path, output: Path, *, include_data: bool = False) -> Path:
    """Write the crate of the gathered study in ``submit_dir`` to ``output`` (a folder, or a
    ``.zip`` file); returns ``output``. Raises ``UserError`` naming the problem and the fix."""
    output = Path(output)
    _check_output(output, Path(submit_dir))
    sources = read_sources(Path(submit_dir))
    with tempfile.TemporaryDirectory(prefix="reprogrid-export-") as staging:
        crate = build_crate(sources, Path(staging), include_data=include_data)
        if output.suffix.lower() == ".zip":
            output.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(output), dir=output.parent)
            os.close(fd)
            try:
                crate.write_zip(tmp)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a crate is shared like any file
                os.replace(tmp, output)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            with atomic_directory(output) as tmp_dir:
                crate.write(tmp_dir)
    log.info("export: wrote %s", output)
    return output


def _check_output(output: Path, submit_dir: Path) -> None:
    if output.is_dir() and any(output.iterdir()) and not (output / METADATA_FILE).is_file():
        raise UserError.of("cannot write the crate", [Problem(str(output), "exists and is not an RO-Crate; choose a new "
                                                              "folder or a .zip file name")])
    if output.exists() and not output.is_dir() and output.suffix.lower() != ".zip":
        raise UserError.of("cannot write the crate", [Problem(str(output), "exists and is a file; name a folder or a .zip")])
    if output.resolve().is_relative_to(Path(submit_dir).resolve()):
        raise UserError.of("cannot write the crate", [Problem(str(output), "is inside the submit folder it exports; "
                                                              "write it beside the folder instead")])


def build_crate(sources: Sources, staging: Path, *, include_data: bool = False) -> ROCrate:
    """The crate object of ``sources``; scrubbed copies of text files go to ``staging``."""
    crate = ROCrate(version="1.1")
    crate.metadata.extra_contexts.append(workflow.WFRUN_CONTEXT)
    for name in sources.files:
        crate.add_file(_staged(sources, name, staging), dest_path=name, properties=_file_properties(name))
    included = _include_data(sources, staging, crate) if include_data else {}
    answer = staging / ANSWER_FILE
    answer.write_text(json.dumps(_answer(sources.df), indent=1, default=str) + "\n", encoding="utf-8")
    crate.add_file(answer, dest_path=ANSWER_FILE, properties={
        "name": "the analysis' answer", "encodingFormat": "application/json",
        "description": "per workload: does the result survive a change of environment (verdicts at the default "
                       "tolerances of `reprogrid report`)"})
    _add_folders(crate, sources)
    _describe(crate, sources, included)
    return crate


def _staged(sources: Sources, name: str, staging: Path) -> Path:
    """The file to copy for ``name``: the original, or a scrubbed copy (text files, the
    string columns of Parquet files; the spec and source files get their paths rewritten only)."""
    source = sources.submit_dir / name
    target = staging / name
    if name == GATHER_REPORT:
        text = scrubbed_report(sources)
    elif name.endswith(".parquet"):
        target.parent.mkdir(parents=True, exist_ok=True)
        return target if scrub_parquet(source, target, sources.submit_dir) else source
    elif is_text(name):
        try:
            original = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return source
        if is_source(name):
            text = scrub_paths(original, sources.submit_dir)
            for secret in secrets_in(text):
                log.warning("export: %s assigns %s a value that may be a secret; it is copied as it is "
                            "(the spec and the workload's code are not rewritten): remove it and export again",
                            name, secret)
        else:
            text = sources.scrub(original)
        if text == original:
            return source
    else:
        return source
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _file_properties(name: str) -> Dict[str, Any]:
    props: Dict[str, Any] = {"name": name}
    if name.startswith(f"{tree.CELLS_DIR}/") or name == tree.GATHER_SUBMIT:
        props["@type"] = ["File", "SoftwareApplication"]
        props["encodingFormat"] = "text/plain"
        props["description"] = "HTCondor submit description"
    elif name == tree.JOB_BUNDLE:
        props["@type"] = ["File", "SoftwareApplication"]
        props["description"] = "the job: a Python zipapp every run executes"
    elif name.endswith(".parquet"):
        props["encodingFormat"] = "application/vnd.apache.parquet"
    elif name.endswith(".html"):
        props["encodingFormat"] = "text/html"
    elif name.endswith(".md"):
        props["encodingFormat"] = "text/markdown"
    elif name.endswith(".json"):
        props["encodingFormat"] = "application/json"
    return props


def _include_data(sources: Sources, staging: Path, crate: ROCrate) -> Dict[str, str]:
    """``--include-data``: copy the data files found locally (the inputs given as paths, or
    the bundled samples) into ``data/``; URLs stay references."""
    found: Dict[str, Path] = {}
    for given in sources.study.data.inputs:
        if "://" in given:
            log.info("export: %s stays a reference (a URL is not downloaded)", given)
            continue
        path = Path(given) if Path(given).is_absolute() else sources.submit_dir / given
        if path.is_file():
            found[path.name] = path
        else:
            log.warning("export: data input %s not found here; referenced by name and checksum only", given)
    if sources.study.data.sample:
        folder = resources.sample_data_dir()
        read = workflow.recorded_sha256(sources.df)
        for name in samples.SAMPLE_SHA256:
            if name in read and (folder / name).is_file():  # the samples the runs read, not every sample
                found.setdefault(name, folder / name)
    included = {}
    for name, path in sorted(found.items()):
        dest = f"{DATA_DIR}/{name}"
        crate.add_file(path, dest_path=dest, properties={"name": name})
        included[name] = dest
    return included


def _answer(df: Any) -> Dict[str, Any]:
    tables = analysis.summarize(df)
    out: Dict[str, Any] = {"schema": "reprogrid.answer/1"}
    for key in ("verdicts", "survival"):
        table = tables.get(key)
        out[key] = [] if table is None else json.loads(table.to_json(orient="records"))
    return out


def _add_folders(crate: ROCrate, sources: Sources) -> None:
    """Dataset entities for the folders whose files the crate lists."""
    folders = {name.split("/", 1)[0] for name in sources.files if "/" in name}
    for folder in sorted(folders):
        parts = [f for f in sources.files if f.startswith(folder + "/")]
        crate.add(ContextEntity(crate, f"{folder}/", properties={
            "@type": "Dataset", "name": folder, "hasPart": workflow.refs(parts)}))
        crate.root_dataset.append_to("hasPart", crate.dereference(f"{folder}/"))


def _describe(crate: ROCrate, sources: Sources, included: Dict[str, str]) -> None:
    """The workflow, its environments and the actions, on the crate's root."""
    study, df = sources.study, sources.df
    provenance = analysis.provenance(df) if len(df) else {"emulated_hardware_envs": []}
    emulated = bool(provenance["emulated_hardware_envs"])
    entities: List[Dict[str, Any]] = workflow.profiles() + workflow.engine(emulated)
    credits = workflow.credits(study)
    entities += credits["entities"]
    data = workflow.data_entities(sources, included)
    entities += data
    images = {s.name: workflow.image_entity(s) for s in study.software}
    entities += list({e["@id"]: e for e in images.values()}.values())
    for hardware in study.hardware:
        pin = workflow.hardware_entity(hardware)
        entities += [pin["entity"]] + pin["values"]
    params = workflow.formal_parameters(data)
    entities += params
    entities += _runs(sources, images, [d["@id"] for d in data])
    for entity in entities:
        _add_entity(crate, entity)
    _root(crate, sources, credits["root"])


def _runs(sources: Sources, images: Dict[str, Dict[str, Any]], data_ids: List[str]) -> List[Dict[str, Any]]:
    """Steps, tools' workflow and the actions of every run and node."""
    records = actions.records_by_run(sources.df)
    gathered = {r.get("run_id"): r for r in sources.gather_report.get("runs") or []}  # gather named each run's files
    entities: List[Dict[str, Any]] = []
    tools: Dict[str, None] = {}
    steps, controls = [], []
    files = set(sources.files)
    shipped: Dict[str, List[str]] = {}
    for name in sources.files:  # each workload's shipped files, found once (not once per run)
        if name.startswith(f"{tree.WORKLOADS_DIR}/") and name.count("/") >= 2:
            shipped.setdefault("/".join(name.split("/")[:2]), []).append(name)
    for position, run in enumerate(sources.manifest.get("runs") or []):
        tool_id = run.get("submit_file") or tree.cell_submit_file(run["cell"])
        tools.setdefault(tool_id)
        node = run["run_id"]
        entities.append(workflow.step_entity(node, tool_id, position))
        steps.append(f"#step/{node}")
        run_files = (gathered.get(node) or {}).get("files") or []
        result_file = next((f for f in run_files if f in files), None)
        workload_files = shipped.get(tree.workload_dir(slug(run["workload"])), [])  # render's folder name
        image = images.get(run["software_env"])
        entities += actions.run_action(run, records.get(node), sources, tool_id=tool_id,
                                       image_id=image["@id"] if image else None,
                                       inputs=data_ids + workload_files + [f"#hardware/{run['hardware_env']}"],
                                       result_file=result_file, detail=(gathered.get(node) or {}).get("detail"))
        entities.append(actions.control_action(node, f"#run/{node}"))
        controls.append(f"#control/{node}")
    entities.append(workflow.step_entity("gather", tree.GATHER_SUBMIT, len(steps)))
    records_in = [f"{tree.RESULTS_DIR}/"] if any(f.startswith(f"{tree.RESULTS_DIR}/") for f in sources.files) else []
    entities += actions.gather_action(True, sources.gather_report.get("counts") or {}, records_in)
    controls.append("#control/gather")
    tools.setdefault(tree.GATHER_SUBMIT)
    steps.append(workflow.GATHER_STEP)
    inputs = [workflow.SPEC_PARAM] + [f"#param/data/{i.rsplit('/', 1)[-1]}" for i in data_ids]
    entities.append(workflow.workflow_entity(list(tools), steps, inputs, sources.study.name))
    results = [f"{tree.DATASET_DIR}/", ANSWER_FILE] + ([f"{REPORT_DIR}/"] if sources.report_dir else [])
    study_run = actions.study_action(records, len(sources.manifest.get("runs") or []),
                                     [tree.STUDY_FILE] + data_ids, results, sources.study.name)
    entities.append(study_run)
    entities.append(actions.organize_action(controls, study_run.get("startTime"), study_run.get("endTime")))
    return entities


def _add_entity(crate: ROCrate, entity: Dict[str, Any]) -> None:
    """Add ``entity``, or merge its properties into the data entity of the same id."""
    existing = crate.dereference(entity["@id"])
    props = {k: v for k, v in entity.items() if k != "@id"}
    if existing is None:
        crate.add(ContextEntity(crate, entity["@id"], properties=props))
        return
    types = existing.type if isinstance(existing.type, list) else [existing.type]
    new_types = props.pop("@type", [])
    for t in new_types if isinstance(new_types, list) else [new_types]:
        if t not in types:
            types.append(t)
    existing.properties()["@type"] = types  # rocrate's item access refuses "@" keys; the entity's own JSON-LD
    for key, value in props.items():
        existing[key] = value


def _root(crate: ROCrate, sources: Sources, credits: Dict[str, Any]) -> None:
    study = sources.study
    root = crate.root_dataset
    root["name"] = f"reprogrid study {study.name}"
    root["description"] = study.description or f"Reproducibility study {study.name}: {len(sources.manifest.get('runs') or [])} runs."
    root["datePublished"] = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    root["conformsTo"] = workflow.refs(workflow.PROFILES)
    root["mainEntity"] = workflow.ref(tree.DAG_FILE)
    root["mentions"] = [workflow.ref(actions.STUDY_RUN)]
    for key, value in credits.items():
        root[key] = value
    if "license" not in credits:
        root["license"] = NO_LICENSE
        log.warning("export: the study spec names no license; the crate says so (add `license:` to the spec)")
    for entity in crate.get_entities():
        if entity.type == "File" and entity.id.startswith(("https://", "http://")):  # web-based data inputs
            root.append_to("hasPart", entity)
