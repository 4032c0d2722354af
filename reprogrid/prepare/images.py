"""Apptainer definition files of the study's software environments, and their builds.

Owns: a strict parser of definition files (header keys, sections, labels, files; every
error names the file and line), the catalogue of the images in ``singularity/``, each
image's OSDF location, the ``apptainer build`` steps, and filling a study file's image
fields with those locations. Apptainer cannot run everywhere, so the build steps are
data (argument lists) that the CLI prints or runs.
"""
from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from reprogrid.core.errors import Problem, UserError
from reprogrid.core.resources import singularity_dir

HEADER_KEYS = ("Bootstrap", "From", "Stage", "Registry", "Namespace", "IncludeCmd")
BOOTSTRAP_AGENTS = (
    "docker", "docker-daemon", "docker-archive", "library", "oras", "shub",
    "localimage", "scratch", "busybox", "debootstrap", "yum", "zypper", "arch",
)
SECTIONS = (
    "setup", "files", "post", "environment", "labels", "test", "runscript",
    "startscript", "help",
)
# Sections whose bodies are shell scripts: anything goes there except a line that starts
# a new section. The others are parsed line by line.
SCRIPT_SECTIONS = ("setup", "post", "environment", "test", "runscript", "startscript")
JOB_BUNDLE_IN_IMAGE = "/opt/reprogrid/reprogrid-job.pyz"
JOB_BUNDLE_NAME = "reprogrid-job.pyz"
DEFAULT_AP = "ap40"
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_AP = re.compile(r"^ap[0-9]+$")
_USER = re.compile(r"^[a-z_][a-z0-9_.\-]*$")


@dataclass(frozen=True)
class Section:
    """One ``%name [args]`` section: its body lines (as written) and where it starts."""

    name: str
    args: str
    line: int
    body: Tuple[str, ...]

    def content(self) -> List[Tuple[int, str]]:
        """Non-blank, non-comment body lines, stripped, with their line numbers."""
        out = []
        for offset, raw in enumerate(self.body, start=1):
            text = raw.strip()
            if text and not text.startswith("#"):
                out.append((self.line + offset, text))
        return out


@dataclass(frozen=True)
class Definition:
    """A parsed definition file."""

    path: Path
    header: Dict[str, str]
    sections: Dict[str, Section]
    labels: Dict[str, str] = field(default_factory=dict)
    files: Tuple[Tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The image name: the file name without ``.def``."""
        return self.path.name[: -len(".def")] if self.path.name.endswith(".def") else self.path.stem

    @property
    def bootstrap(self) -> str:
        return self.header["Bootstrap"]

    @property
    def base(self) -> str:
        """The ``From:`` image."""
        return self.header.get("From", "")

    def script(self, section: str) -> str:
        """The body of a script section as one string (empty when absent)."""
        sec = self.sections.get(section)
        return "\n".join(sec.body).strip("\n") if sec else ""


def parse_definition_text(text: str, path: Path | str = "<string>") -> Definition:
    """Parse definition-file text strictly; raise ``UserError`` listing every problem."""
    path = Path(path)
    problems: List[Problem] = []
    header: Dict[str, str] = {}
    sections: Dict[str, Section] = {}
    current: Optional[Tuple[str, str, int, List[str]]] = None

    def where(lineno: int) -> str:
        return f"{path}:{lineno}"

    def close() -> None:
        if current is not None:
            name, args, line, body = current
            while body and not body[-1].strip():
                body.pop()
            sections[name] = Section(name, args, line, tuple(body))

    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("%"):
            match = re.match(r"^%([A-Za-z]+)(?:\s+(.*))?$", stripped)
            name = match.group(1).lower() if match else ""
            if name not in SECTIONS:
                if current is not None and current[0] in SCRIPT_SECTIONS and not match:
                    current[3].append(raw)  # e.g. a printf format inside %post
                    continue
                problems.append(Problem(where(lineno), f"unknown section {stripped.split()[0]!r}; "
                                        f"known sections: {', '.join('%' + s for s in SECTIONS)}"))
                current = None
                continue
            if name in sections or (current is not None and current[0] == name):
                problems.append(Problem(where(lineno), f"section %{name} appears twice; merge them"))
            close()
            current = (name, (match.group(2) or "").strip(), lineno, [])
            continue
        if current is not None:
            current[3].append(raw)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        key, value = key.strip(), value.strip()
        canonical = {k.lower(): k for k in HEADER_KEYS}.get(key.lower())
        if not sep or canonical is None:
            problems.append(Problem(where(lineno), f"expected a header line 'Key: value' with Key one of "
                                    f"{', '.join(HEADER_KEYS)}, or a %section; got {stripped!r}"))
            continue
        if canonical in header:
            problems.append(Problem(where(lineno), f"header key {canonical} appears twice"))
            continue
        if not value:
            problems.append(Problem(where(lineno), f"header key {canonical} has no value"))
            continue
        header[canonical] = value
    close()

    if "Bootstrap" not in header:
        problems.append(Problem(str(path), "missing 'Bootstrap:' header (e.g. 'Bootstrap: docker') "
                                "before the first section"))
    elif header["Bootstrap"].lower() not in BOOTSTRAP_AGENTS:
        problems.append(Problem(str(path), f"unknown Bootstrap agent {header['Bootstrap']!r}; "
                                f"known: {', '.join(BOOTSTRAP_AGENTS)}"))
    if header.get("Bootstrap", "").lower() not in ("scratch", "") and "From" not in header:
        problems.append(Problem(str(path), "missing 'From:' header naming the base image"))

    labels = _parse_labels(sections.get("labels"), path, problems)
    files = _parse_files(sections.get("files"), path, problems)
    if problems:
        raise UserError.of(f"{path}: not a valid definition file", problems)
    return Definition(path=path, header=header, sections=sections, labels=labels, files=files)


def _parse_labels(section: Optional[Section], path: Path, problems: List[Problem]) -> Dict[str, str]:
    labels: Dict[str, str] = {}
    if section is None:
        return labels
    for lineno, text in section.content():
        parts = text.split(None, 1)
        if len(parts) != 2 or not _LABEL_KEY.match(parts[0]):
            problems.append(Problem(f"{path}:{lineno}", f"%labels line must be 'key value'; got {text!r}"))
        elif parts[0] in labels:
            problems.append(Problem(f"{path}:{lineno}", f"label {parts[0]} set twice"))
        else:
            labels[parts[0]] = parts[1].strip()
    return labels


def _parse_files(section: Optional[Section], path: Path, problems: List[Problem]) -> Tuple[Tuple[str, str], ...]:
    files: List[Tuple[str, str]] = []
    if section is None:
        return ()
    for lineno, text in section.content():
        try:
            parts = shlex.split(text)
        except ValueError as err:
            problems.append(Problem(f"{path}:{lineno}", f"%files line cannot be split: {err}"))
            continue
        if len(parts) == 1:
            files.append((parts[0], parts[0]))
        elif len(parts) == 2:
            files.append((parts[0], parts[1]))
        else:
            problems.append(Problem(f"{path}:{lineno}", f"%files line must be 'source [destination]'; got {text!r}"))
    return tuple(files)


def parse_definition(path: Path | str) -> Definition:
    """Read and parse one definition file (see :func:`parse_definition_text`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read definition file: {err}") from err
    return parse_definition_text(text, path)


REQUIRED_LABELS = ("org.reprogrid.image", "org.reprogrid.base-image", "org.reprogrid.python",
                   "org.reprogrid.tensorflow", "org.reprogrid.pyarrow")


def check_reprogrid_image(defn: Definition) -> List[Problem]:
    """What a definition needs to be a reprogrid image: bundle in, self-test, labels."""
    where = str(defn.path)
    problems = []
    if (JOB_BUNDLE_NAME, JOB_BUNDLE_IN_IMAGE) not in defn.files:
        problems.append(Problem(where, f"%files must copy {JOB_BUNDLE_NAME} to {JOB_BUNDLE_IN_IMAGE}"))
    # an image without TensorFlow (a user's own stack) proves the job side runs by its fingerprint
    test = "fingerprint --no-tf" if defn.labels.get("org.reprogrid.tensorflow") == "none" else "selftest"
    if f"{JOB_BUNDLE_IN_IMAGE} {test}" not in defn.script("test"):
        problems.append(Problem(where, f"%test must run 'python3 {JOB_BUNDLE_IN_IMAGE} {test}'"))
    for key in REQUIRED_LABELS:
        if key not in defn.labels:
            problems.append(Problem(where, f"%labels is missing {key}"))
    if defn.labels.get("org.reprogrid.image", defn.name) != defn.name:
        problems.append(Problem(where, f"label org.reprogrid.image is {defn.labels['org.reprogrid.image']!r} "
                                f"but the file is named {defn.name}.def"))
    if defn.labels.get("org.reprogrid.base-image", defn.base) != defn.base:
        problems.append(Problem(where, "label org.reprogrid.base-image differs from the From: header"))
    return problems


def catalogue(directory: Path | str | None = None) -> Dict[str, Definition]:
    """Every ``*.def`` in ``directory`` (default: the built-in ``singularity/``), checked."""
    directory = Path(directory) if directory is not None else singularity_dir()
    defs: Dict[str, Definition] = {}
    problems: List[Problem] = []
    for path in sorted(directory.glob("*.def")):
        try:
            defn = parse_definition(path)
        except UserError as err:
            problems.extend(err.problems or [Problem(str(path), err.summary)])
            continue
        problems.extend(check_reprogrid_image(defn))
        defs[defn.name] = defn
    if problems:
        raise UserError.of(f"{directory}: invalid image definitions", problems)
    return defs


def select(defs: Mapping[str, Definition], names: Sequence[str]) -> List[Definition]:
    """The named definitions, in the order given; unknown names are a ``UserError``."""
    unknown = [n for n in names if n not in defs]
    if unknown:
        raise UserError.of("unknown image", [Problem(n, f"no {n}.def; known images: {', '.join(defs)}")
                                             for n in unknown])
    return [defs[n] for n in names]


def check_osdf_owner(user: str, ap: str = DEFAULT_AP) -> None:
    """Reject a user or access point name that cannot be part of an OSDF path."""
    problems = []
    if not _USER.match(user or ""):
        problems.append(Problem("--osdf-user", f"{user!r} is not a user name (lower-case letters, digits, _ . -)"))
    if not _AP.match(ap or ""):
        problems.append(Problem("--ap", f"{ap!r} is not an access point name such as ap40 or ap20"))
    if problems:
        raise UserError.of("bad OSDF location", problems)


def osdf_location(name: str, user: str, ap: str = DEFAULT_AP) -> str:
    """Where the image lives on OSDF: ``osdf:///ospool/<ap>/data/<user>/reprogrid/<name>.sif``."""
    check_osdf_owner(user, ap)
    return f"osdf:///ospool/{ap}/data/{user}/reprogrid/{name}.sif"


def osdf_local_path(name: str, user: str, ap: str = DEFAULT_AP) -> str:
    """The same place as seen on the access point's file system (``/ospool/<ap>/data/...``)."""
    check_osdf_owner(user, ap)
    return f"/ospool/{ap}/data/{user}/reprogrid/{name}.sif"


@dataclass(frozen=True)
class BuildPlan:
    """How to build one image: run each step (an argument list) in ``context``."""

    name: str
    context: Path
    sif: Path
    steps: Tuple[Tuple[str, ...], ...]
    osdf: Optional[str] = None

    def describe(self) -> str:
        """The steps as shell lines (for printing only; running uses the lists)."""
        lines = [f"# {self.name}" + (f" -> {self.osdf}" if self.osdf else "")]
        lines.append(shlex.join(["cd", str(self.context)]))
        lines += [shlex.join(step) for step in self.steps]
        return "\n".join(lines)


def build_plan(defn: Definition, build_dir: Path | str, user: Optional[str] = None,
               ap: str = DEFAULT_AP, apptainer: str = "apptainer") -> BuildPlan:
    """The steps that build ``defn`` in ``build_dir/<name>/`` and copy it to OSDF (with a user).

    The context folder holds a copy of the definition file and the job bundle, so the
    relative ``%files`` source resolves whatever Apptainer takes it relative to.
    """
    context = Path(build_dir).absolute() / defn.name
    sif = context / f"{defn.name}.sif"
    steps: List[Tuple[str, ...]] = [(apptainer, "build", "--force", sif.name, defn.path.name)]
    osdf = None
    if user:
        osdf = osdf_location(defn.name, user, ap)
        dest = osdf_local_path(defn.name, user, ap)
        steps.append(("mkdir", "-p", str(Path(dest).parent)))
        steps.append(("cp", sif.name, dest))
    return BuildPlan(defn.name, context, sif, tuple(steps), osdf)


def stage_context(plan: BuildPlan, defn: Definition, bundle: Path) -> None:
    """Put the definition file and the job bundle into the plan's context folder."""
    plan.context.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(defn.path, plan.context / defn.path.name)
    shutil.copyfile(bundle, plan.context / JOB_BUNDLE_NAME)


def find_apptainer() -> Optional[str]:
    """The ``apptainer`` (or older ``singularity``) executable on PATH, if any."""
    return shutil.which("apptainer") or shutil.which("singularity")


def image_for_software(name: str, env: Mapping[str, object], defs: Mapping[str, Definition]) -> Optional[Definition]:
    """The image that provides a software environment: same name, or same base image."""
    if name in defs:
        return defs[name]
    image = str(env.get("image") or "")
    bare = image.split("://", 1)[-1]
    for defn in defs.values():
        if defn.labels.get("org.reprogrid.software-env") == name:
            return defn
    for defn in defs.values():
        if bare and bare == defn.base:
            return defn
    return None


def fill_image_fields(study: Dict[str, object], defs: Mapping[str, Definition], user: str,
                      ap: str = DEFAULT_AP, only: Optional[Iterable[str]] = None) -> Dict[str, str]:
    """Set each software environment's ``image`` to its OSDF ``.sif``; return what changed.

    ``study`` is the study file as loaded from YAML (a mapping with a ``software`` list).
    Environments without a matching image are a ``UserError``.
    """
    software = study.get("software")
    items: List[Tuple[str, str, Dict[str, object]]] = []
    if not isinstance(software, list):
        raise UserError.of("bad study file", [Problem("software", "missing: list the software environments")])
    for idx, env in enumerate(software):
        if not isinstance(env, dict) or "name" not in env:
            raise UserError.of("bad study file", [Problem(f"software[{idx}]", "needs a name")])
        items.append((f"software[{idx}]", str(env["name"]), env))
    wanted = set(only) if only is not None else None
    changed: Dict[str, str] = {}
    problems = []
    for where, name, env in items:
        if wanted is not None and name not in wanted:
            continue
        defn = image_for_software(name, env, defs)
        if defn is None:
            problems.append(Problem(f"{where}.image", f"no image definition provides {name!r}: name it like a "
                                    f"singularity/*.def ({', '.join(defs)}) or set its image to one's base image"))
            continue
        location = osdf_location(defn.name, user, ap)
        env["image"] = location
        changed[name] = location
    if problems:
        raise UserError.of("cannot fill image fields", problems)
    return changed
