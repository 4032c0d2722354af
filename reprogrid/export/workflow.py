"""The prospective part of the crate: the workflow (the DAG and the study spec), its tools
(one submit description per cell, the gather node), steps (one per DAG node), formal
parameters and inputs (data files by URL and checksum, software environments by image or
lock, hardware environments by pin), and the crate's profiles, licence and authors.

Each function returns JSON-LD entities as ``{"@id": ..., ...}`` dicts; ``writer`` adds them.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from reprogrid import __version__, tree
from reprogrid.export.sources import Sources, is_secret_name, WITHHELD
from reprogrid.spec import HardwareEnv, SoftwareEnv, Study

log = logging.getLogger(__name__)

WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
PROFILE_VERSION = "0.5"
PROFILES = {
    f"https://w3id.org/ro/wfrun/process/{PROFILE_VERSION}": "Process Run Crate",
    f"https://w3id.org/ro/wfrun/workflow/{PROFILE_VERSION}": "Workflow Run Crate",
    f"https://w3id.org/ro/wfrun/provenance/{PROFILE_VERSION}": "Provenance Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
DAGMAN_LANGUAGE = "#htcondor-dagman"
REPROGRID = "#reprogrid"
GATHER_STEP = "#step/gather"
SPEC_PARAM = "#param/study-spec"
DATASET_PARAM = "#param/dataset"
SPDX = "https://spdx.org/licenses/"


def ref(entity_id: str) -> Dict[str, str]:
    return {"@id": entity_id}


def refs(ids: Iterable[str]) -> List[Dict[str, str]]:
    return [ref(i) for i in ids]


def profiles() -> List[Dict[str, Any]]:
    """The profiles the crate conforms to, as CreativeWork entities."""
    return [{"@id": uri, "@type": "CreativeWork", "name": name, "version": uri.rsplit("/", 1)[-1]}
            for uri, name in PROFILES.items()]


def credits(study: Study) -> Dict[str, Any]:
    """Root properties and entities for the spec's ``license`` and ``authors``."""
    entities: List[Dict[str, Any]] = []
    root: Dict[str, Any] = {}
    if study.license:
        uri = study.license if "://" in study.license else SPDX + study.license
        entities.append({"@id": uri, "@type": "CreativeWork", "name": study.license})
        root["license"] = ref(uri)
    people = []
    for i, author in enumerate(study.authors):
        person: Dict[str, Any] = {"@id": author.orcid or f"#author-{i + 1}", "@type": "Person", "name": author.name}
        if author.affiliation:
            person["affiliation"] = author.affiliation
        entities.append(person)
        people.append(ref(person["@id"]))
    if people:
        root["author"] = people
    return {"root": root, "entities": entities}


def engine(emulated: bool) -> List[Dict[str, Any]]:
    """reprogrid and the scheduler that ran the DAG: HTCondor's DAGMan or the emulator."""
    scheduler = ({"@id": "#scheduler", "@type": "SoftwareApplication",
                  "name": f"reprogrid dryrun: emulated HTCondor schedd and DAGMan (reprogrid {__version__})",
                  "softwareVersion": __version__, "description": "the study's DAG ran on this machine, the schedd emulated"}
                 if emulated else
                 {"@id": "#scheduler", "@type": "SoftwareApplication", "name": "HTCondor DAGMan",
                  "url": "https://htcondor.org/"})
    return [
        {"@id": REPROGRID, "@type": "SoftwareApplication", "name": "reprogrid", "softwareVersion": __version__,
         "description": "renders, runs and analyses reproducibility studies of deep-learning results on HTCondor"},
        scheduler,
        {"@id": DAGMAN_LANGUAGE, "@type": "ComputerLanguage", "name": "HTCondor DAGMan",
         "url": ref("https://htcondor.readthedocs.io/en/latest/automated-workflows/index.html")},
    ]


def image_entity(software: SoftwareEnv) -> Dict[str, Any]:
    """A software environment: its container image (by reference) and, for a local stand-in,
    the packages that make it (its lock)."""
    kind = software.image_kind
    image_id = software.image if "://" in software.image else f"#image/{software.name}"
    entity: Dict[str, Any] = {"@id": image_id, "@type": "ContainerImage" if kind != "docker" else "DockerImage",
                              "name": software.name, "additionalType": ref(
                                  "https://w3id.org/ro/terms/workflow-run#DockerImage" if kind == "docker"
                                  else "https://w3id.org/ro/terms/workflow-run#SIFImage")}
    if kind == "docker":
        name = software.image[len("docker://"):]
        registry, _, rest = name.rpartition("/") if name.count("/") > 1 else ("docker.io", "", name)
        repo, _, tag = (rest if registry != "docker.io" else name).partition(":")
        entity.update({"registry": registry, "tag": tag or "latest"})
        entity["name"] = repo if registry == "docker.io" else f"{registry}/{repo}"
        entity["alternateName"] = software.name
    if software.versions:
        entity["softwareRequirements"] = [f"{k} {v}" for k, v in sorted(software.versions.items())]
    if software.local is not None:
        entity["description"] = "run locally in a virtualenv of these packages: " + ", ".join(software.local.packages)
    return entity


def hardware_entity(hardware: HardwareEnv) -> Dict[str, Any]:
    """A hardware environment: its pin as PropertyValues."""
    pins = {k: v for k, v in _flat(asdict(hardware)).items() if k not in ("name", "description") and v not in (None, "", [], ())}
    props = [{"@id": f"#hardware/{hardware.name}/{k}", "@type": "PropertyValue", "name": k, "value": _text(v)}
             for k, v in sorted(pins.items())]
    entity = {"@id": f"#hardware/{hardware.name}", "@type": "Thing", "name": hardware.name,
              "description": hardware.description or f"hardware environment {hardware.name} ({hardware.device})",
              "additionalProperty": refs(p["@id"] for p in props)}
    return {"entity": entity, "values": props}


def data_entities(sources: Sources, included: Dict[str, str]) -> List[Dict[str, Any]]:
    """The data files the runs read: by URL (or name) and the sha256 the jobs recorded.

    ``included`` maps a file name to its path inside the crate (``--include-data``);
    those are File entities the writer copies; the rest are referenced, not copied.
    """
    sha = recorded_sha256(sources.df)
    inputs = {Path(i.split("://", 1)[-1]).name: i for i in sources.study.data.inputs}
    names = sorted(set(sha) | set(inputs))
    entities = []
    for name in names:
        given = inputs.get(name)
        if name in included:
            entity_id = included[name]
        elif given and "://" in given:
            entity_id = given
        else:
            entity_id = f"#data/{name}"
        entity: Dict[str, Any] = {"@id": entity_id, "@type": "File", "name": name}
        if entity_id.startswith("#"):  # neither copied nor reachable by URL: named and checksummed only
            entity["@type"] = "CreativeWork"
            entity["description"] = ("the bundled sample of this file" if sources.study.data.sample and not given
                                     else "a local data file, referenced by name and checksum (not copied)")
        if name in sha:
            entity["sha256"] = sha[name]
        if given and "://" in given:
            entity["contentUrl"] = given
        entities.append(entity)
    return entities


def recorded_sha256(df: Any) -> Dict[str, str]:
    """The data files the runs read, by name, with the sha256 their jobs recorded."""
    out: Dict[str, str] = {}
    if "data_sha256" not in getattr(df, "columns", ()):
        return out
    for text in df["data_sha256"].dropna().unique():
        try:
            out.update({str(k): str(v) for k, v in json.loads(text).items() if v})
        except (ValueError, AttributeError):
            log.warning("export: unreadable data_sha256 value %r left out", text)
    return out


def tool_entity(cell_file: str, cell: str, workload: str, software: str, hardware: str) -> Dict[str, Any]:
    """A cell's submit description: the tool each of its runs executes."""
    return {"@id": cell_file, "@type": ["File", "SoftwareApplication"], "name": f"cell {cell}",
            "description": f"HTCondor submit description: workload {workload}, software {software}, hardware {hardware}",
            "encodingFormat": "text/plain"}


def step_entity(node: str, tool_id: str, position: int) -> Dict[str, Any]:
    return {"@id": f"#step/{node}", "@type": "HowToStep", "name": f"DAG node {node}", "position": str(position),
            "workExample": ref(tool_id)}


def formal_parameters(data: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The workflow's inputs (the spec, each data file) and its output (the dataset)."""
    conforms = ref("https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE")
    params = [{"@id": SPEC_PARAM, "@type": "FormalParameter", "name": "study spec", "additionalType": "File",
               "encodingFormat": "application/yaml", "conformsTo": conforms, "workExample": ref(tree.STUDY_FILE)},
              {"@id": DATASET_PARAM, "@type": "FormalParameter", "name": "gathered dataset", "additionalType": "Dataset",
               "conformsTo": conforms, "workExample": ref(f"{tree.DATASET_DIR}/")}]
    for entity in data:
        param = {"@id": f"#param/data/{entity['name']}", "@type": "FormalParameter", "name": f"data file {entity['name']}",
                 "additionalType": "File", "conformsTo": conforms}
        if entity["@type"] == "File":
            param["workExample"] = ref(entity["@id"])
        params.append(param)
    return params


def env_values(prefix: str, env: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Environment variables as PropertyValues; a credential's value is withheld."""
    return [{"@id": f"{prefix}/{name}", "@type": "PropertyValue", "name": name,
             "value": WITHHELD if is_secret_name(name) else _text(value)} for name, value in sorted(env.items())]


def _flat(data: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def _text(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return value


def workflow_entity(tool_ids: List[str], step_ids: List[str], input_ids: List[str], name: Optional[str]) -> Dict[str, Any]:
    """The main entity: the DAG, a computational workflow whose steps are its nodes."""
    return {"@id": tree.DAG_FILE, "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": f"DAG of study {name}", "programmingLanguage": ref(DAGMAN_LANGUAGE),
            "encodingFormat": "text/plain", "hasPart": refs(tool_ids), "step": refs(step_ids),
            "input": refs(input_ids), "output": [ref(DATASET_PARAM)]}
