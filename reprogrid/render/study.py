"""Render a study into a submit tree: DAG, submit files, job wrapper and bundle, manifest.

Rendering is pure: :func:`render_files` yields ``(relative path, bytes)`` pairs from a
validated study and the templates, so tests need no disk. :func:`render_study` is the I/O
edge: it writes them (and the job bundle) into a temporary folder and swaps it in, so a
failure leaves nothing half-written, and re-rendering an unchanged spec gives
byte-identical files. Templates are Jinja2 with StrictUndefined; a user template folder
overrides any of the built-in ones by file name.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import jinja2

from reprogrid import __version__
from reprogrid.core.errors import Problem, UserError, file_system_error
from reprogrid.condor.escaping import FILTERS, UnsafeValue, dag_name, dag_vars_value
from reprogrid.core.naming import RUN_ID_SUFFIX_TEMPLATE, slug
from reprogrid.core.files import atomic_directory, check_name_length, discard, is_temp_name, swap_in, sweep_leftovers, temp_prefix
from reprogrid.core.progress import Progress
from reprogrid.prepare import stacklock
from reprogrid.render.bundle import build_job_bundle
from reprogrid.render.cellad import job_arguments, job_environment, job_inputs, sample_inputs
from reprogrid.render.pins import pins_for_study, study_warnings
from reprogrid.core.resources import sample_data_dir, templates_dir
from reprogrid.job import catalogue
from reprogrid.spec.definitions import Cell, Study, Workload
from reprogrid.spec.validate import validate_study
from reprogrid.spec.workload_code import shipped_files
from reprogrid import tree
from reprogrid.tree import DAG_FILE, RUN_OUTPUTS

TEMPLATE_FILES = ("job.sub.j2", "gather.sub.j2", "study.dag.j2", "study.dag.config.j2", "run_job.sh.j2")


@dataclass
class RenderResult:
    """What ``render_study`` wrote."""

    submit_dir: Path
    dag_file: Path
    manifest_file: Path
    runs: int
    files: List[str]
    warnings: List[str] = field(default_factory=list)


def template_environment(template_dir: Optional[Union[str, Path]] = None) -> jinja2.Environment:
    """Jinja environment over the user's template folder (if any) then the built-in one.

    One environment per folder and process, so each template is compiled once (the pool
    check renders cells twice; jinja still reloads a template whose file changed).
    """
    return _environment_for(str(template_dir) if template_dir else "")


@functools.lru_cache(maxsize=8)
def _environment_for(template_dir: str) -> jinja2.Environment:
    search = [template_dir] if template_dir else []
    search.append(str(templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    env.globals["tree"] = tree
    return env


def _template_error(err: jinja2.TemplateError) -> UserError:
    """Name the template file and line of a failure (Jinja keeps them in the traceback)."""
    where, lineno = getattr(err, "filename", None) or getattr(err, "name", None), getattr(err, "lineno", None)
    tb = err.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where, lineno = filename, tb.tb_lineno
        tb = tb.tb_next
    place = f"{where}:{lineno}" if where and lineno else str(where or "template")
    return UserError("a template failed to render", [Problem(place, f"{err}; fix the template (its variables are strict)")])


def workload_description(workload: Workload) -> bytes:
    """``reprogrid-workload.json``: what the job side needs to run a command or entry workload."""
    data = {
        "name": workload.name, "kind": workload.kind, "command": list(workload.command), "entry": workload.entry,
        "files": list(workload.files), "data": list(workload.data), "task": workload.task_name,
        "primary_metric": workload.primary_metric, "higher_is_better": workload.higher_is_better,
    }
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _workload_files(study: Study, base_dir: Path) -> Iterator[Tuple[str, bytes]]:
    """Each user workload's description and shipped files (read from the spec's folder), by path in the tree."""
    for w in study.workloads:
        if w.kind == catalogue.KIND_BUILTIN:
            continue
        folder = tree.workload_dir(slug(w.name))
        yield f"{folder}/{catalogue.WORKLOAD_FILE}", workload_description(w)
        for rel in w.files:
            paths, problems = shipped_files(base_dir, rel)  # the check validate makes: no link out of the folder
            if problems:
                raise UserError.of(f"cannot ship {rel} with workload {w.name}", [Problem(str(base_dir), p) for p in problems])
            for name, path in sorted(paths):
                try:
                    yield f"{folder}/{name}", path.read_bytes()
                except OSError as err:
                    raise UserError(f"cannot ship {rel} with workload {w.name}", [Problem(str(path), f"{err}; check the file")]) from err


def _keep_modes(study: Study, root: Path, base_dir: Path) -> None:
    """Shipped files keep their source's permission bits (an executable stays one, 0640 stays 0640)."""
    for w in study.workloads:
        if w.kind != catalogue.KIND_BUILTIN:
            folder = root / tree.workload_dir(slug(w.name))
            for rel in w.files:
                for name, path in shipped_files(base_dir, rel)[0]:
                    os.chmod(folder / name, path.stat().st_mode & 0o777)


def _locks(study: Study, base_dir: Optional[Union[str, Path]]) -> Dict[str, Dict[str, str]]:
    """Each software environment's stack lock beside the spec (``<study>.lock/<env>.txt``), if any."""
    if base_dir is None:
        return {}
    out = {}
    for sw in study.software:
        path = stacklock.lock_path(base_dir, study.name, sw.name)
        if sw.local is not None and path.is_file():
            out[sw.name] = stacklock.read_lock(path)[0]
    return out


def _manifest_head(study: Study, data: Dict, base_dir: Optional[Union[str, Path]] = None) -> Dict:
    locks = _locks(study, base_dir)
    return {
        "reprogrid_version": __version__,
        "study": {
            "name": study.name,
            "study_id": study.study_id,
            "description": study.description,
            "seed": study.seed,
            "repeats": study.repeats,
            "sample_data": study.data.sample,
            "pool_profile": study.pool.profile,
        },
        "workloads": {w["name"]: dict(w, kind=wl.kind, task=wl.task_name, primary_metric=wl.primary_metric,
                                      higher_is_better=wl.higher_is_better)
                      for w, wl in zip(data["workloads"], study.workloads)},
        "software": {s["name"]: dict(s, lock=locks[s["name"]]) if s["name"] in locks else s for s in data["software"]},
        "hardware": {h["name"]: dict(h, device=hw.device) for h, hw in zip(data["hardware"], study.hardware)},
    }


def _per_repeat(study: Study, template: str) -> Iterator[str]:
    """``template`` (%-style, keys ``r`` and ``s``) filled for every repeat of every cell.

    The heavy part of a 100,000-run render is per-run text; names are checked and escaped
    once per cell, and each run is one %-format.
    """
    seeds = study.seeds()
    for c in study.cells():
        filled = template.format(**_cell_fields(c))
        for r in range(study.repeats):
            yield filled % {"r": r, "s": seeds[r]}


def _cell_fields(c: Cell) -> Dict[str, str]:
    name = dag_name(c.cell)
    return {
        "name": name,
        "vars": dag_vars_value(name)[1:-1].replace("%", "%%"),
        "category": slug(c.hardware.name),
        "json_head": json.dumps({"workload": c.workload.name, "software_env": c.software.name,
                                 "hardware_env": c.hardware.name, "cell": c.cell})[1:-1].replace("%", "%%"),
        "json_tail": json.dumps({"device": c.hardware.device, "submit_file": tree.cell_submit_file(c.cell)})[1:-1].replace("%", "%%"),
        "json_stem": json.dumps(tree.result_stem(c.cell))[1:-1].replace("%", "%%"),
        "json_id": json.dumps(c.cell)[1:-1].replace("%", "%%"),
    }


def dag_node_lines(study: Study) -> Iterator[str]:
    """JOB/VARS/RETRY/CATEGORY lines of every node (names checked as DAGMan would read them).

    Plain Python rather than a template loop: at 100,000 nodes a per-node Jinja block
    costs seconds, and this part is DAGMan's syntax, not something to customise.
    """
    node = "{name}" + RUN_ID_SUFFIX_TEMPLATE
    template = f"JOB {node} {tree.cell_submit_file('{name}')}\nVARS {node} run_id=\"{{vars}}{RUN_ID_SUFFIX_TEMPLATE}\" repeat=\"%(r)d\" seed=\"%(s)d\"\n"
    if study.retries:
        template += f"RETRY {node} {study.retries} UNLESS-EXIT 2\n"
    if study.throttles.max_jobs_per_hardware:
        template += f"CATEGORY {node} {{category}}\n"
    return _per_repeat(study, template)


def dag_text(study: Study, env: jinja2.Environment) -> str:
    """The DAG file: the template's header and footer around the node lines."""
    return env.get_template("study.dag.j2").render(
        version=__version__, study=study, run_count=study.run_count, retries=study.retries,
        nodes="".join(dag_node_lines(study)), per_hardware=study.throttles.max_jobs_per_hardware,
        categories=sorted({slug(h.name) for h in study.hardware}),
    )


def manifest_text(study: Study, base_dir: Optional[Union[str, Path]] = None) -> str:
    """manifest.json (the one builder of it), one run per line: readable, diffable, fast.

    Each run carries ``run_id``, ``workload``, ``software_env``, ``hardware_env``, ``cell``,
    ``repeat``, ``seed``, ``device``, ``submit_file`` and ``result_stem``.
    """
    run = (
        '{{"run_id": "{json_id}' + RUN_ID_SUFFIX_TEMPLATE + '", {json_head}, "repeat": %(r)d, "seed": %(s)d, '
        '{json_tail}, "result_stem": "{json_stem}' + RUN_ID_SUFFIX_TEMPLATE + '"}}'
    )
    return tree.manifest_json(_manifest_head(study, study.to_dict(), base_dir), _per_repeat(study, run))


def render_files(
    study: Study,
    *,
    template_dir: Optional[Union[str, Path]] = None,
    base_dir: Union[str, Path] = ".",
    workload_files: bool = True,
) -> Iterator[Tuple[str, bytes]]:
    """Every text file of the submit tree as ``(relative path, content)``, in a fixed order.

    User workloads' files are read from ``base_dir`` (the spec's folder); ``workload_files=False``
    leaves them out (for callers that only need the submit descriptions). Raises ``UserError``
    when a value cannot be written safely, a shipped file cannot be read or a template fails.
    """
    env = template_environment(template_dir)
    base_dir = Path(base_dir)
    try:
        yield from _cell_files(study, env, base_dir)
        yield tree.GATHER_SUBMIT, env.get_template("gather.sub.j2").render(version=__version__, study=study).encode()
        yield DAG_FILE, dag_text(study, env).encode()
        yield tree.DAG_CONFIG_FILE, env.get_template("study.dag.config.j2").render(study=study, throttles=study.throttles).encode()
        yield tree.JOB_WRAPPER, env.get_template("run_job.sh.j2").render(version=__version__).encode()
        if workload_files:
            yield from _workload_files(study, base_dir)
    except UnsafeValue as err:
        raise UserError(f"study {study.name!r} cannot be rendered safely", [Problem("study", f"{err}")]) from err
    except jinja2.TemplateError as err:
        raise _template_error(err) from err
    yield tree.MANIFEST_FILE, manifest_text(study, base_dir).encode()
    yield tree.STUDY_FILE, study.to_yaml().encode()


def submit_descriptions(study: Study, *, template_dir: Optional[Union[str, Path]] = None) -> Dict[str, bytes]:
    """Only the cells' submit descriptions (by path in the tree), as :func:`render_files` writes them."""
    try:
        return dict(_cell_files(study, template_environment(template_dir), Path(".")))
    except UnsafeValue as err:
        raise UserError(f"study {study.name!r} cannot be rendered safely", [Problem("study", f"{err}")]) from err
    except jinja2.TemplateError as err:
        raise _template_error(err) from err


def _cell_files(study: Study, env: jinja2.Environment, base_dir: Path) -> Iterator[Tuple[str, bytes]]:
    pins = pins_for_study(study)
    job_template = env.get_template("job.sub.j2")
    for c in study.cells():
        pin = pins[c.hardware.name]
        text = job_template.render(
            version=__version__, study=study, cell=c.cell, workload=c.workload,
            software=c.software, hardware=c.hardware, pin=pin,
            arguments=job_arguments(study, c), environment=job_environment(pin),
            inputs=[tree.JOB_BUNDLE] + job_inputs(study, c.workload, base_dir),
            resources=study.resources, output_destination=study.output.destination,
        )
        yield tree.cell_submit_file(c.cell), text.encode()


def _check_destination(out_dir: Path, force: bool) -> List[str]:
    """Refuse to replace what is not ours or holds results; return the folders to carry over."""
    if not out_dir.exists():
        return []
    if not out_dir.is_dir():
        raise UserError(f"cannot render into {out_dir}", [Problem(str(out_dir), "exists and is not a folder; choose another -o")])
    entries = list(out_dir.iterdir())
    if not entries:
        return []
    if not tree.is_submit_dir(out_dir):
        raise UserError(
            f"cannot render into {out_dir}",
            [Problem(str(out_dir), "is a non-empty folder that reprogrid did not render; choose an empty or new folder")],
        )
    produced = [
        p for p in RUN_OUTPUTS
        if (out_dir / p).is_dir() and any(f.name != ".keep" for f in (out_dir / p).iterdir())
    ]
    if produced and not force:
        raise UserError(
            f"cannot render into {out_dir}",
            [Problem(str(out_dir), f"holds {', '.join(produced)} of a previous run; render to a new folder, or pass --force to re-render and keep them")],
        )
    return produced


def _write_tree(study: Study, root: Path, *, template_dir: Optional[Union[str, Path]], base_dir: Union[str, Path],
                skip: Sequence[str] = ()) -> List[str]:
    """Write every file of the submit tree under ``root`` (run-output folders in ``skip`` left out)."""
    written: List[str] = []
    with Progress(len(study.cells()) + 6, "render") as bar:
        for rel, content in render_files(study, template_dir=template_dir, base_dir=base_dir):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(rel)
            bar.update()
    (root / tree.JOB_WRAPPER).chmod(0o755)
    _keep_modes(study, root, Path(base_dir))
    build_job_bundle(root / tree.BUNDLE_DIR)
    written.append(tree.JOB_BUNDLE)
    if study.data.sample:
        for name, rel in sample_inputs().items():
            (root / "data").mkdir(exist_ok=True)
            shutil.copyfile(sample_data_dir() / name, root / rel)
            written.append(rel)
    for folder in (tree.RESULTS_DIR, tree.LOGS_DIR):
        if folder not in skip:
            (root / folder).mkdir()
            (root / folder / ".keep").write_bytes(b"")
    return written


def _render_over(study: Study, out_dir: Path, carried: Sequence[str], **options) -> List[str]:
    """Re-render over a tree that holds results: they never move.

    The new files are built in a folder beside ``out_dir`` and swapped in entry by entry
    (folders in one exchange each, ``manifest.json`` last), so ``results/``, ``logs/`` and
    ``dataset/`` stay where they are whatever moment a kill comes. What the old rendering
    left that the new one does not write (a stale rescue DAG, the old DAG's logs) is
    removed after the new files are in place; run outputs are kept.
    """
    sweep_leftovers(out_dir)  # a killed re-render's staging folder beside it
    for leftover in [out_dir / name for name in os.listdir(out_dir) if not is_temp_name(name)]:
        sweep_leftovers(leftover)  # and the swapped-out entries inside it
    stage = Path(tempfile.mkdtemp(prefix=temp_prefix(out_dir), dir=out_dir.parent))
    try:
        written = _write_tree(study, stage, skip=carried, **options)
        names = sorted(os.listdir(stage), key=lambda n: (n == tree.MANIFEST_FILE, n))
        for name in names:
            swap_in(stage / name, out_dir / name)
        for name in sorted(os.listdir(out_dir)):
            if name not in names and name not in RUN_OUTPUTS and not is_temp_name(name):
                discard(out_dir / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return written


def _check_writable(out_dir: Path) -> None:
    """Refuse, before anything is written, a destination that cannot be created here."""
    why = check_name_length(out_dir)
    if why:
        raise UserError(f"cannot render into {out_dir}", [Problem(str(out_dir), f"{why} (-o)")])
    for parent in [out_dir, *out_dir.absolute().parents]:
        if parent.exists() or parent.is_symlink():
            if parent != out_dir and not parent.is_dir():
                raise UserError(f"cannot render into {out_dir}", [Problem(
                    str(parent), "is a file, not a folder, so nothing can be created inside it; choose another -o")])
            if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"cannot render into {out_dir}", [Problem(
                    str(parent), "is not writable by you; choose a folder you can write (-o), or change its permissions")])
            break


def render_study(
    study: Study,
    out_dir: Union[str, Path],
    *,
    template_dir: Optional[Union[str, Path]] = None,
    base_dir: Union[str, Path] = ".",
    force: bool = False,
    max_runs: Optional[int] = None,
) -> RenderResult:
    """Write the submit tree of ``study`` to ``out_dir`` atomically.

    With ``force`` over a tree holding results, the rendered files are replaced around
    them (see :func:`_render_over`); results are never moved. A file-system fault is a
    ``UserError`` naming the path and the fix.
    """
    study = validate_study(study, base_dir=str(base_dir), max_runs=max_runs)
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    carried = _check_destination(out_dir, force)
    options = dict(template_dir=template_dir, base_dir=base_dir)
    try:
        if carried:
            written = _render_over(study, out_dir, carried, **options)
        else:
            with atomic_directory(out_dir) as tmp:
                written = _write_tree(study, tmp, **options)
    except OSError as err:
        raise file_system_error(err, f"render into {out_dir}", out_dir) from None
    return RenderResult(
        submit_dir=out_dir, dag_file=out_dir / DAG_FILE, manifest_file=out_dir / tree.MANIFEST_FILE,
        runs=study.run_count, files=sorted(written), warnings=study_warnings(study),
    )
