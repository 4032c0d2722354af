"""The one adapter around HTCondor's Python bindings: the only module that imports them.

``classad`` and ``htcondor`` (v1) are imported here, on first use (``bindings.classad``,
``bindings.htcondor``, ``bindings.JobEventType`` or a function that needs them), with the
bindings' warning about a missing condor_config silenced; ``htcondor2()`` and
``classad2()`` give the v2 modules (event logs, DAG submission) on first use. Everyone
else imports from here. Importing this module costs nothing: ``reprogrid status`` reads
the event log with the v2 bindings alone, and a status whose cache is still valid loads
no bindings at all.

``condor_submit`` turns a submit description into job ClassAds; the v1 bindings of the
24.x series expose exactly that offline as ``htcondor.Submit(text).jobs()`` (htcondor2
raises NotImplementedError). Everything in reprogrid that needs a job ad (render's
fidelity tests, the emulator, pool checks) goes through :func:`submit_to_job_ads`, so a
future bindings change touches one file.
"""
from __future__ import annotations

import os
import warnings
from importlib import import_module
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple, Union

from reprogrid.core.errors import Problem, UserError

_V1: Optional[Tuple[Any, Any]] = None


def _v1() -> Tuple[Any, Any]:
    """``(classad, htcondor)``, the v1 modules, imported once; also bound as this module's names."""
    global _V1
    if _V1 is None:
        with warnings.catch_warnings():
            # Without a condor_config the bindings warn once at import; offline parsing needs none.
            # CONDOR_CONFIG is left alone: on an access point the same process may talk to the schedd.
            warnings.simplefilter("ignore")
            import classad as classad_module
            import htcondor as htcondor_module
        _V1 = (classad_module, htcondor_module)
        globals().update(classad=classad_module, htcondor=htcondor_module)
    return _V1


def __getattr__(name: str) -> Any:
    """``classad``, ``htcondor`` and ``JobEventType``: the v1 bindings, imported on first use (PEP 562)."""
    if name in ("classad", "htcondor"):
        return dict(zip(("classad", "htcondor"), _v1()))[name]
    if name == "JobEventType":
        return _v1()[1].JobEventType  # the bindings' enum; the numbers reprogrid uses are condor.eventcodes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def htcondor2():
    """The ``htcondor2`` module (event logs, ``Submit.from_dag``), imported on first use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no condor_config is needed to read logs
        import htcondor2 as module
    return module


def classad2():
    """The ``classad2`` module, imported on first use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import classad2 as module
    return module


def ad_item_reader() -> Tuple[Callable[[Any], Any], Callable[[Any, str, bool], Any]]:
    """``(handle_of, read)`` such that ``read(handle_of(ad), key, True)`` is ``ad[key]`` for a
    ``classad2.ClassAd`` (``KeyError`` where it has no such attribute), a Python call cheaper:
    classad2's own item read, which ``ClassAd.__getitem__`` calls once it has checked that
    the key is text (``status`` reads four attributes of each of 400,000 events). Where the
    bindings have no such function, the ClassAd's public item read."""
    classad2()  # imported as the bindings are everywhere (a missing condor_config silenced)
    read = getattr(import_module("classad2._class_ad"), "_classad_get_item", None)
    if read is None:
        return (lambda ad: ad), (lambda ad, key, _strict: ad[key])
    return attrgetter("_handle"), read


def new_event_ads(reader: Any) -> Iterator[Any]:
    """The ClassAds of the events an ``htcondor2.JobEventLog`` has not yielded yet, without
    waiting for more (each event's ``_data``: read directly, a Python call less per attribute).
    Reading them through the bindings' private reader call instead, with no ``JobEvent`` per
    event, was measured in session 22: 2% fewer instructions, no CPU time saved; not worth
    depending on a private function."""
    return map(_EVENT_AD, reader.events(stop_after=0))


_EVENT_AD = attrgetter("_data")


# -- ClassAd values: the one set of helpers (the emulator, matchmaking and the pool check use them)
def ad_value(ad: "classad.ClassAd", attr: str) -> object:
    """An attribute's evaluated value, or None when absent, undefined or an error."""
    if attr not in ad:
        return None
    try:
        value = ad.eval(attr)
    except Exception:  # the bindings raise several types for an expression that cannot evaluate
        return None
    undefined = _v1()[0].Value
    if value is undefined.Undefined or value is undefined.Error:
        return None
    return value


def ad_string(ad: "classad.ClassAd", attr: str) -> Optional[str]:
    """An attribute that evaluates to a string, else None."""
    if attr not in ad:
        return None
    value = ad.eval(attr)
    return value if isinstance(value, str) else None


def ad_number(value: object, default: int = 0) -> int:
    """A ClassAd value as an int (booleans count as 0/1); ``default`` when it is not a number."""
    if isinstance(value, (int, float)):
        return int(value)
    return default


#: QDate given to simulated jobs, so rendered ads are reproducible.
FIXED_QDATE = 1_600_000_000


def submit_to_job_ads(
    submit_text: str,
    *,
    iwd: Union[str, "os.PathLike[str]"],
    vars: Optional[Mapping[str, str]] = None,
    count: int = 1,
    cluster_id: int = 1,
    source: str = "<submit description>",
) -> List["classad.ClassAd"]:
    """Job ClassAds that ``condor_submit`` would create for ``submit_text``.

    ``vars`` are the DAG node's VARS, applied as submit macros exactly as DAGMan does.
    ``iwd`` becomes the job's ``Iwd`` unless the text sets ``initialdir``; it must exist.
    Like condor_submit, the parser resolves a relative ``executable`` against the
    process's current folder, not ``initialdir``: callers that need DAGMan's behaviour
    (the emulator) run this from the node's folder. A description the parser rejects raises ``UserError`` naming
    ``source``.
    """
    htcondor = _v1()[1]
    iwd = Path(iwd)
    if not iwd.is_dir():
        raise UserError(f"cannot build job ads for {source}", [Problem(str(iwd), "initial directory does not exist")])
    try:
        description = htcondor.Submit(submit_text)
        if "initialdir" not in {k.lower() for k in description.keys()}:
            description["initialdir"] = str(iwd.resolve())
        itemdata = iter([dict(vars)]) if vars else None
        ads = description.jobs(count=count, itemdata=itemdata, clusterid=cluster_id, qdate=FIXED_QDATE)
        return list(ads)
    except (RuntimeError, ValueError, htcondor.HTCondorException) as err:
        raise UserError(
            f"HTCondor cannot parse {source}",
            [Problem(source, f"{err}; fix the submit description (see the condor_submit manual)")],
        ) from err


def parse_expression(text: str) -> "classad.ExprTree":
    """Parse one ClassAd expression; raise ``ValueError`` when it is not exactly one."""
    try:
        return _v1()[0].ExprTree(text)
    except Exception as err:  # the bindings raise a bare ClassAdParseError / SyntaxError
        raise ValueError(f"not a valid ClassAd expression: {text!r}") from err
