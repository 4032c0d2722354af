"""The DAG commands that set a node's options or the DAG's files, for ``dagfile``'s parser.

RETRY, SCRIPT, PRE_SKIP, ABORT-DAG-ON, CATEGORY, MAXJOBS, PRIORITY, DONE (applied to
nodes once the whole file is read), NODE_STATUS_FILE, JOBSTATE_LOG, CONFIG and DOT.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List

from reprogrid.core.errors import Problem
from reprogrid.emulator.dagman.daglex import integer as _int, logical_lines as _logical_lines
from reprogrid.emulator.dagman.model import Dag, DotSpec, Node, NodeStatusFileSpec, Script

_KNOWN_CONFIG = {
    "DAGMAN_MAX_JOBS_SUBMITTED",
    "DAGMAN_MAX_JOBS_IDLE",
    "DAGMAN_MAX_PRE_SCRIPTS",
    "DAGMAN_MAX_POST_SCRIPTS",
    "DAGMAN_MAX_SUBMITS_PER_INTERVAL",
    "DAGMAN_USER_LOG_SCAN_INTERVAL",
    "DAGMAN_ALWAYS_RUN_POST",
    "DAGMAN_DEFAULT_APPEND_VARS",
    "DAGMAN_MAX_RESCUE_NUM",
    "DAGMAN_RESET_RETRIES_UPON_RESCUE",
}


class NodeOptions:
    """The option commands; mixed into ``dagfile``'s parser, which provides what is declared here."""

    dag: Dag
    path: Path
    problems: List[Problem]

    def warn(self, line: int, message: str) -> None:
        raise NotImplementedError

    def targets(self, name: str, where: str, allow_final: bool = False) -> List[Node]:
        raise NotImplementedError

    def later(self, where: str, apply: Callable[[], None]) -> None:
        raise NotImplementedError

    def cmd_JOBSTATE_LOG(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 2:
            raise ValueError("JOBSTATE_LOG syntax: JOBSTATE_LOG file")
        if self.dag.jobstate_log is not None:
            self.warn(number, "a second JOBSTATE_LOG is ignored; the first one wins")
        else:
            self.dag.jobstate_log = words[1]

    def cmd_RETRY(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) not in (3, 5) or (len(words) == 5 and words[3].upper().replace("_", "-") != "UNLESS-EXIT"):
            raise ValueError("RETRY syntax: RETRY node n [UNLESS-EXIT value]")
        count = _int(words[2], "the number of retries")
        if count < 0:
            raise ValueError("the number of retries must be >= 0")
        unless = _int(words[4], "UNLESS-EXIT value") if len(words) == 5 else None
        name = words[1]

        def apply() -> None:
            for node in self.targets(name, where):
                node.retry, node.retry_unless_exit = count, unless

        self.later(where, apply)

    def cmd_SCRIPT(self, number: int, where: str, line: str, words: List[str]) -> None:
        i = 1
        defer_status, defer_time = None, 0
        if len(words) > i and words[i].upper() == "DEFER":
            if len(words) < i + 3:
                raise ValueError("SCRIPT DEFER needs a status and a time: SCRIPT DEFER 4 30 PRE node exe")
            defer_status = _int(words[i + 1], "DEFER status")
            defer_time = _int(words[i + 2], "DEFER time")
            i += 3
        debug_file, debug_type = None, ""
        if len(words) > i and words[i].upper() == "DEBUG":
            if len(words) < i + 3 or words[i + 2].upper() not in ("STDOUT", "STDERR", "ALL"):
                raise ValueError("SCRIPT DEBUG needs a file and what to capture: SCRIPT DEBUG file STDOUT|STDERR|ALL PRE node exe")
            debug_file, debug_type = words[i + 1], words[i + 2].upper()
            i += 3
        if len(words) < i + 3:
            raise ValueError("SCRIPT syntax: SCRIPT [DEFER s t] PRE|POST node executable [arguments]")
        kind = words[i].upper()
        if kind == "HOLD":
            self.warn(number, "SCRIPT HOLD is ignored: the dry run removes a held job at once (see docs/dryrun.md)")
            return
        if kind not in ("PRE", "POST"):
            raise ValueError(f"script type must be PRE or POST, not {words[i]!r}")
        name = words[i + 1]
        raw = line.split()  # DAGMan splits a script's command line on whitespace only, quotes stay
        argv = raw[i + 2:] if raw[:i + 2] == words[:i + 2] else words[i + 2:]
        script = Script(kind=kind, argv=argv, defer_status=defer_status, defer_time=defer_time, where=where,
                        debug_file=debug_file, debug_type=debug_type)

        def apply() -> None:
            for node in self.targets(name, where, allow_final=True):
                setattr(node, kind.lower(), script)

        self.later(where, apply)

    def cmd_PRE_SKIP(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 3:
            raise ValueError("PRE_SKIP syntax: PRE_SKIP node exit-code")
        code = _int(words[2], "PRE_SKIP exit code")
        if code == 0:
            raise ValueError("PRE_SKIP exit code must be non-zero")
        name = words[1]

        def apply() -> None:
            for node in self.targets(name, where, allow_final=True):
                node.pre_skip = code

        self.later(where, apply)

    def cmd_ABORT_DAG_ON(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) not in (3, 5) or (len(words) == 5 and words[3].upper() != "RETURN"):
            raise ValueError("ABORT-DAG-ON syntax: ABORT-DAG-ON node exit-value [RETURN dag-value]")
        value = _int(words[2], "ABORT-DAG-ON exit value")
        ret = _int(words[4], "ABORT-DAG-ON RETURN value") if len(words) == 5 else None
        if ret is not None and not 0 <= ret <= 255:
            raise ValueError(f"the ABORT-DAG-ON RETURN value must be between 0 and 255, not {ret}")
        name = words[1]

        def apply() -> None:
            for node in self.targets(name, where):
                node.abort_on, node.abort_return = value, ret

        self.later(where, apply)

    def cmd_CATEGORY(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 3:
            raise ValueError("CATEGORY syntax: CATEGORY node category")
        name, category = words[1], words[2]

        def apply() -> None:
            for node in self.targets(name, where):
                node.category = category

        self.later(where, apply)

    def cmd_MAXJOBS(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 3:
            raise ValueError("MAXJOBS syntax: MAXJOBS category n")
        limit = _int(words[2], "MAXJOBS limit")
        if limit < 0:
            raise ValueError("MAXJOBS limit must be >= 0")
        self.dag.maxjobs[words[1]] = limit

    def cmd_PRIORITY(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 3:
            raise ValueError("PRIORITY syntax: PRIORITY node value")
        value = _int(words[2], "PRIORITY value")
        name = words[1]

        def apply() -> None:
            for node in self.targets(name, where):
                node.priority = value

        self.later(where, apply)

    def cmd_NODE_STATUS_FILE(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) < 2 or len(words) > 4:
            raise ValueError("NODE_STATUS_FILE syntax: NODE_STATUS_FILE file [min-seconds] [ALWAYS-UPDATE]")
        spec = NodeStatusFileSpec(words[1])
        for word in words[2:]:
            if word.upper() == "ALWAYS-UPDATE":
                spec.always_update = True
            else:
                spec.min_update = _int(word, "NODE_STATUS_FILE minimum update time")
        if self.dag.node_status is None:
            self.dag.node_status = spec
        else:
            self.warn(number, "a second NODE_STATUS_FILE is ignored; the first one wins")

    def cmd_CONFIG(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 2:
            raise ValueError("CONFIG syntax: CONFIG file")
        if self.dag.config_file is not None:
            raise ValueError("only one CONFIG file is allowed")
        self.dag.config_file = words[1]
        path = Path(words[1])
        if not path.is_absolute():
            path = self.path.parent / path
        try:
            text = path.read_text()
        except OSError as err:
            raise ValueError(f"cannot read the CONFIG file {path}: {err.strerror}") from None
        for cnum, cline in _logical_lines(text):
            if "=" not in cline:
                self.problems.append(Problem(f"{path}:{cnum}", "expected KEY = value"))
                continue
            key, value = (s.strip() for s in cline.split("=", 1))
            key = key.upper()
            self.dag.config[key] = value
            if key not in _KNOWN_CONFIG:
                self.dag.warnings.append(f"{path}:{cnum}: configuration {key} is ignored by the emulator")

    def cmd_DONE(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 2:
            raise ValueError("DONE syntax: DONE node")
        name = words[1]

        def apply() -> None:
            node = self.dag.nodes.get(name)
            if node is None:
                raise ValueError(f"DONE names unknown node {name!r}")
            if node.final:
                raise ValueError("the FINAL node cannot be DONE")
            node.done = True

        self.later(where, apply)

    def cmd_REJECT(self, number: int, where: str, line: str, words: List[str]) -> None:
        """The manual: "Mark the DAG description file as rejected to prevent execution"
        (condor_dagman parses the whole DAG, then exits 1 naming the first REJECT)."""
        if len(words) != 1:
            raise ValueError("REJECT takes no arguments")
        if self.dag.reject is None:
            self.dag.reject = where

    def cmd_DOT(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) < 2:
            raise ValueError("DOT syntax: DOT file [UPDATE | DONT-UPDATE] [OVERWRITE | DONT-OVERWRITE] [INCLUDE header]")
        spec = DotSpec(words[1])
        rest = iter(words[2:])
        for word in rest:
            option = word.upper().replace("_", "-")
            if option in ("UPDATE", "DONT-UPDATE"):
                spec.update = option == "UPDATE"
            elif option in ("OVERWRITE", "DONT-OVERWRITE"):
                spec.overwrite = option == "OVERWRITE"
            elif option == "INCLUDE":
                spec.include = next(rest, None)
                if spec.include is None:
                    raise ValueError("DOT ... INCLUDE needs the file to include")
            else:
                raise ValueError(f"unexpected {word!r} on the DOT line (allowed: UPDATE, DONT-UPDATE, OVERWRITE, "
                                 "DONT-OVERWRITE, INCLUDE file)")
        self.dag.dot = spec
