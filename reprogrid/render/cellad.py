"""A cell's job: the values its submit description carries, and the description without Jinja.

Owns what a cell's job is given: its arguments (:func:`job_arguments`), environment
(:func:`job_environment`) and input files (:func:`job_inputs`); ``render.study`` hands
them to the ``job.sub.j2`` template, which owns the file's layout. :func:`cell_submit_text`
writes the same submit commands directly (no comments, no Jinja), for what needs the job
ad ``condor_submit`` makes from a cell but not the file: the pool check
(``access.poolcheck``) and the planner judge pins with it, so ``reprogrid validate``
imports no template engine. A test renders the built-in template beside it and compares
the job ads attribute by attribute.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from reprogrid import tree
from reprogrid.condor.escaping import classad_string, submit_value, transfer_list
from reprogrid.core.naming import slug
from reprogrid.job import catalogue
from reprogrid.job.catalogue import DATA_FILES
from reprogrid.render.pins import Pin
from reprogrid.spec.definitions import Cell, Study, Workload


def sample_inputs() -> Dict[str, str]:
    """The bundled sample data files, by name, as paths in the submit tree."""
    return {name: f"data/{name}" for name in sorted(set(DATA_FILES))}


def _local(item: str, base_dir: Path) -> str:
    """A local input as an absolute path (relative ones are relative to the spec); URLs unchanged."""
    if "://" not in item and not Path(item).is_absolute():
        return str((base_dir / item).resolve())
    return item


def job_inputs(study: Study, workload: Workload, base_dir: Path) -> List[str]:
    """transfer_input_files entries for a workload: its data (file or own inputs) plus any extra inputs.

    A user workload's folder (its files and description) goes with a trailing slash, so its
    contents land in the job's sandbox with their relative paths.
    """
    out = []
    if workload.kind != catalogue.KIND_BUILTIN:
        out.append(tree.workload_dir(slug(workload.name)) + "/")
        out += [_local(item, base_dir) for item in workload.data]
    if study.data.sample:
        return out + ([sample_inputs()[workload.data_file]] if workload.data_file else [])
    known = set(DATA_FILES)
    for item in study.data.inputs:
        name = Path(item.split("://", 1)[-1]).name
        if name == workload.data_file or name not in known:
            out.append(_local(item, base_dir))
    return out


def job_arguments(study: Study, cell: Cell) -> str:
    """The job's arguments (naming the workload's kind); the run's own values come from the node's VARS."""
    w = cell.workload
    args = ["--kind", w.kind, "--workload", w.name]
    if w.kind == catalogue.KIND_BUILTIN:
        if w.builtin != w.name:
            args += ["--example", str(w.builtin)]
        for key, value in sorted(w.options.items()):
            args += ["--option", f"{key}={value!r}"]
        if w.primary_metric != catalogue.BUILTIN_PRIMARY:
            args += ["--primary-metric", w.primary_metric]
    if w.task:
        args += ["--task", w.task]
    args += [
        "--run-id", "$(run_id)", "--study-id", study.study_id,
        "--study-name", study.name, "--software-env", cell.software.name,
        "--hardware-env", cell.hardware.name, "--repeat", "$(repeat)", "--seed", "$(seed)",
        "--data-dir", ".", "--output-dir", tree.RESULTS_DIR,
    ]
    if w.epochs is not None:
        args += ["--epochs", str(w.epochs)]
    if w.max_samples is not None:
        args += ["--max-samples", str(w.max_samples)]
    if not w.determinism:
        args.append("--no-determinism")
    if study.data.sample:
        args.append("--sample-data")
    # Names, metrics and option values are validated ([A-Za-z0-9_.=-]): no quoting is needed in
    # condor's argument syntax. A user's command never appears here: it is in the workload's
    # description file, shipped with its files.
    return " ".join(args)


def job_environment(pin: Pin) -> str:
    """The ``environment`` command's value (new syntax, without its quotes)."""
    return " ".join(f"{k}={v}" if v else f"{k}=''" for k, v in pin.environment)


def cell_submit_text(study: Study, cell: Cell, pin: Pin, base_dir: Path) -> str:
    """The submit commands ``job.sub.j2`` writes for ``cell`` (values escaped alike, so an
    unsafe value raises the same ``UnsafeValue``), without its comments, for a job ad."""
    for value in (study.name, cell.software.name, cell.hardware.name):  # the template's header comment
        submit_value(value)
    environment = job_environment(pin)
    destination = study.output.destination
    lines = [
        "universe = container",
        f"container_image = {submit_value(cell.software.image)}",
        f"executable = {tree.JOB_WRAPPER}",
        "transfer_executable = true",
        f'arguments = "{job_arguments(study, cell)}"',
    ]
    if environment:
        lines.append(f'environment = "{environment}"')
    lines += [
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
        f"transfer_input_files = {transfer_list([tree.JOB_BUNDLE] + job_inputs(study, cell.workload, base_dir))}",
        f"transfer_output_files = {tree.RESULTS_DIR}",
    ]
    if destination:
        lines.append(f"output_destination = {submit_value(destination)}/$(run_id)/")
    resources = study.resources
    lines += [
        f"output = {tree.LOGS_DIR}/$(run_id).out",
        f"error = {tree.LOGS_DIR}/$(run_id).err",
        f"log = {tree.LOG_FILE}",
        f"request_cpus = {resources.cpus}",
        f"request_memory = {resources.memory_mb}",
        f"request_disk = {resources.disk_mb * 1024}",
    ]
    lines += [f"{command} = {submit_value(value)}" for command, value in pin.gpu_commands]
    lines += [
        f"requirements = {submit_value(pin.requirements)}",
        f"+ReprogridStudy = {classad_string(study.name)}",
        f"+ReprogridCell = {classad_string(cell.cell)}",
        '+ReprogridRunId = "$(run_id)"',
        "+ReprogridRepeat = $(repeat)",
        f"+ReprogridWorkload = {classad_string(cell.workload.name)}",
        f"+ReprogridSoftwareEnv = {classad_string(cell.software.name)}",
        f"+ReprogridHardwareEnv = {classad_string(cell.hardware.name)}",
        f"+ReprogridDevice = {classad_string(cell.hardware.device)}",
        "queue",
    ]
    return "\n".join(lines) + "\n"
