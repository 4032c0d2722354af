"""Parse a DAG input file (the DAGMan language the dry run supports) into a ``Dag``.

Supported: JOB / FINAL (DIR, NOOP, DONE; inline ``{ ... }`` descriptions), SUBMIT-DESCRIPTION,
SUBDAG EXTERNAL, SPLICE (DIR), INCLUDE, VARS (PREPEND/APPEND; quoted or bare values),
PARENT/CHILD (many-to-many, splices as parents or children), RETRY n [UNLESS-EXIT v],
SCRIPT [DEFER s t] PRE|POST, PRE_SKIP, ABORT-DAG-ON n v [RETURN r], CATEGORY, MAXJOBS,
PRIORITY, NODE_STATUS_FILE, JOBSTATE_LOG, CONFIG, DONE, DOT (ignored with a warning),
comments (``#``, ``//``) and trailing-backslash continuations. Keywords match as DAGMan's
lexer does: any case, ``-`` and ``_`` alike. ``ALL_NODES`` works where DAGMan allows it.
Any other command is a ``DagParseError`` naming the file, the line and what to do;
condor_dagman exits 1 on a parse error, so ``reprogrid dryrun`` does too. A cycle is not a
parse error (DAGMan runs what it can and reports the cycle at the end).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from reprogrid.core.errors import Problem, UserError
from reprogrid.run.emulator.model import Dag, Node, NodeStatusFileSpec, Script

ALL_NODES = "ALL_NODES"
_MACRO_NAME = re.compile(r"^(?:[A-Za-z0-9_]+|\+[A-Za-z_][A-Za-z0-9_]*|My\.[A-Za-z_][A-Za-z0-9_]*)$", re.I)
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


class DagParseError(UserError):
    """The DAG file cannot be parsed: condor_dagman exits 1 on a parse error, and so does the dry run."""

    exit_code = 1

_FLATTEN = "; write the DAG without it, or check it on an access point with condor_submit_dag"
_UNSUPPORTED = {
    "SERVICE": "SERVICE nodes run alongside the DAG until it ends: the dry run does not emulate them" + _FLATTEN,
    "PROVISIONER": "PROVISIONER nodes provision resources for the DAG: the dry run does not emulate them" + _FLATTEN,
    "SET_JOB_ATTR": "SET_JOB_ATTR changes the DAGMan job's own ad, which the dry run does not have" + _FLATTEN,
    "ENV": "ENV sets DAGMan's own environment, which the dry run does not emulate" + _FLATTEN,
    "REJECT": "REJECT marks a DAG file as not to be run: remove the line to run it",
    "SAVE_POINT_FILE": "SAVE_POINT_FILE is not emulated" + _FLATTEN,
    "CONNECT": "CONNECT/PIN_IN/PIN_OUT (splice pins) are not emulated; connect splices with PARENT/CHILD",
    "PIN_IN": "CONNECT/PIN_IN/PIN_OUT (splice pins) are not emulated; connect splices with PARENT/CHILD",
    "PIN_OUT": "CONNECT/PIN_IN/PIN_OUT (splice pins) are not emulated; connect splices with PARENT/CHILD",
    "PARENT_WEAK": "weak edges are not emulated" + _FLATTEN,
    "WEAK": "weak edges are not emulated" + _FLATTEN,
    "DATA": "DATA nodes are not emulated" + _FLATTEN,
    "TOLERANCE": "TOLERANCE is not emulated" + _FLATTEN,
}


def _raw_lines(text: str) -> List[Tuple[int, str]]:
    """(line number, stripped line) for every line; comments and blanks kept for inline blocks."""
    return [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1)]


def _skip(line: str) -> bool:
    return not line or line.startswith("#") or line.startswith("//")


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Join backslash continuations; drop comments and blank lines. Keeps first line numbers."""
    out: List[Tuple[int, str]] = []
    pending = ""
    start = 0
    for number, line in _raw_lines(text):
        if _skip(line):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            out.append((start, full))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def tokens(line: str) -> List[str]:
    """Split a DAG line as DAGMan's lexer does: whitespace separates, quotes group (and are removed),
    a backslash inside quotes escapes the next character."""
    out: List[str] = []
    cur: List[str] = []
    have = False
    quote = ""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            if ch == "\\" and i + 1 < n:
                cur.append(line[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
        elif ch in " \t\r":
            if have or cur:
                out.append("".join(cur))
                cur, have = [], False
        elif ch in "\"'":
            quote, have = ch, True
        else:
            cur.append(ch)
        i += 1
    if quote:
        raise ValueError("invalid quoting: no ending quote found")
    if have or cur:
        out.append("".join(cur))
    return out


def _value_token(text: str, i: int) -> Tuple[str, int]:
    """One VARS value from ``text[i:]`` (quoted or not, as DAGMan's lexer reads it)."""
    n = len(text)
    value: List[str] = []
    quote = ""
    quoted_whole = i < n and text[i] in "\"'"
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and i + 1 < n:
                value.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
                if quoted_whole:
                    i += 1
                    break
            else:
                value.append(ch)
        elif ch.isspace():
            break
        elif ch in "\"'":
            quote = ch
            if not quoted_whole:
                value.append(ch)
        else:
            value.append(ch)
        i += 1
    if quote:
        raise ValueError("a VARS value has no closing quote")
    return "".join(value), i


def parse_vars(text: str) -> List[Tuple[str, str]]:
    """Parse ``name="value" name2=value2`` as DAGMan's lexer does.

    Values may be quoted with ``"`` or ``'`` (inside, a backslash escapes the next
    character) or unquoted (up to the next whitespace). Raises ``ValueError`` with a
    readable message on bad syntax.
    """
    pairs: List[Tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        j = i
        while j < n and not text[j].isspace() and text[j] != "=":
            if text[j] in "\"'":
                raise ValueError(f"a VARS name may not contain quotes: {text[i:].strip()!r}")
            j += 1
        name = text[i:j]
        while j < n and text[j].isspace():
            j += 1
        if j >= n or text[j] != "=":
            raise ValueError(f'expected name="value" but found {text[i:].strip()!r}')
        j += 1
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise ValueError(f"the VARS macro {name!r} has no value")
        value, j = _value_token(text, j)
        if not name or not _MACRO_NAME.match(name):
            raise ValueError(
                f"bad macro name {name!r}: use letters, digits and underscores (or +Attr / My.Attr)"
            )
        if name.lower().startswith("queue"):
            raise ValueError(f"macro name {name!r} may not begin with 'queue'")
        pairs.append((name, value))
        i = j
    if not pairs:
        raise ValueError('VARS needs at least one name="value"')
    return pairs


def _int(word: str, what: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise ValueError(f"{what} must be an integer, not {word!r}") from None


class _Parser:
    def __init__(self, path: Path, dag: Dag, rescue: bool = False, depth: int = 0) -> None:
        self.path = path
        self.dag = dag
        self.rescue = rescue
        self.depth = depth
        self.problems: List[Problem] = []
        self.deferred: List[Tuple[str, Callable[[], None]]] = []  # applied after all JOB lines
        self.edges: List[Tuple[str, List[str], List[str]]] = []
        self.splices: Dict[str, Tuple[List[str], List[str]]] = {}  # name -> (initial, terminal) nodes
        self.folder = path.parent  # where relative paths of this file are resolved

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def warn(self, line: int, message: str) -> None:
        self.dag.warnings.append(f"{self.where(line)}: {message}")

    def run(self, text: str) -> None:
        lines = _raw_lines(text)
        i = 0
        while i < len(lines):
            number, line = lines[i]
            i += 1
            if _skip(line):
                continue
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + " " + lines[i][1]
                i += 1
            try:
                i = self.command(number, line, lines, i)
            except ValueError as err:
                self.problems.append(Problem(self.where(number), str(err)))

    def inline_block(self, words: List[str], lines: List[Tuple[int, str]], i: int) -> Tuple[str, List[str], int]:
        """Read an inline submit description (``{`` ... ``}``): (text, words after the close, next index)."""
        opener = words[0]
        end = "}" if opener.startswith("{") else ("@" + opener[2:] if len(opener) > 2 else "")
        if not end:
            raise ValueError("no inline description closing token specified (@=TOKEN)")
        body: List[str] = []
        while i < len(lines):
            _, line = lines[i]
            i += 1
            if _skip(line):
                continue
            if line == end or line.startswith(end + " "):
                return "\n".join(body) + "\n", tokens(line[len(end):]), i
            body.append(line)
        raise ValueError(f"missing inline description closing token: {end}")

    # -- node lookups, resolved after the whole file is read ------------------------------
    def targets(self, name: str, where: str, allow_final: bool = False) -> List[Node]:
        if name.upper() == ALL_NODES:
            return [n for n in self.dag.nodes.values() if not n.final]
        node = self.dag.nodes.get(name)
        if node is None:
            raise ValueError(f"unknown node {name!r} (declare it with JOB first)")
        if node.final and not allow_final:
            raise ValueError(f"the FINAL node {name!r} cannot be used here")
        return [node]

    def later(self, where: str, apply: Callable[[], None]) -> None:
        self.deferred.append((where, apply))

    def finish(self) -> None:
        for where, apply in self.deferred:
            try:
                apply()
            except ValueError as err:
                self.problems.append(Problem(where, str(err)))

    # -- commands -------------------------------------------------------------------------
    def command(self, number: int, line: str, lines: List[Tuple[int, str]], i: int) -> int:
        words = tokens(line)
        keyword = words[0].upper().replace("-", "_")
        where = self.where(number)
        if self.rescue and keyword not in ("DONE", "RETRY"):
            raise ValueError(f"a partial rescue DAG may only hold DONE and RETRY lines, not {words[0]}")
        if keyword in ("JOB", "FINAL", "SUBMIT_DESCRIPTION") and len(words) >= 3 and words[2][:1] in ("{", "@"):
            body, rest, i = self.inline_block(words[2:], lines, i)
            words = words[:2] + ["{inline}"] + rest
            self.inline = body
        handler = getattr(self, "cmd_" + keyword, None)
        if handler is None:
            if keyword in _UNSUPPORTED:
                raise ValueError(_UNSUPPORTED[keyword])
            raise ValueError(f"unknown DAG command {words[0]!r}")
        handler(number, where, line, words)
        return i

    def _node_line(self, number: int, where: str, words: List[str], final: bool, kw: str = "") -> Node:
        kw = kw or ("FINAL" if final else "JOB")
        if len(words) < 3:
            raise ValueError(f"{kw} needs a node name and a submit file: {kw} name file.sub")
        name, submit = words[1], words[2]
        if name.upper() in (ALL_NODES, "PARENT", "CHILD"):
            raise ValueError(f"{name!r} is a reserved word and cannot name a node")
        if "+" in name:
            raise ValueError(f"node name {name!r} contains the illegal character '+' (DAGMan keeps it for splices)")
        if name in self.dag.nodes:
            raise ValueError(f"node {name!r} is declared twice (first at {self.dag.nodes[name].where})")
        node = Node(name=name, submit_file=submit, final=final, where=where)
        if submit == "{inline}":
            node.submit_file, node.inline = "", self.inline
        elif submit in self.dag.descriptions:
            node.submit_file, node.inline = "", self.dag.descriptions[submit]
        elif self.folder != self.dag.folder and not os.path.isabs(submit):
            node.submit_file = str(self.folder / submit)
        rest = words[3:]
        i = 0
        while i < len(rest):
            opt = rest[i].upper()
            if opt == "DIR" and i + 1 < len(rest):
                node.directory = rest[i + 1]
                i += 2
            elif opt == "NOOP":
                node.noop = True
                i += 1
            elif opt == "DONE" and not final:
                node.done = True
                i += 1
            else:
                raise ValueError(f"unexpected {rest[i]!r} on the {kw} line (allowed: DIR dir, NOOP{'' if final else ', DONE'})")
        if final:
            if self.dag.final is not None:
                raise ValueError(f"only one FINAL node is allowed (already: {self.dag.final})")
            self.dag.final = name
        self.dag.nodes[name] = node
        return node

    def cmd_JOB(self, number: int, where: str, line: str, words: List[str]) -> None:
        self._node_line(number, where, words, final=False)

    def cmd_FINAL(self, number: int, where: str, line: str, words: List[str]) -> None:
        self._node_line(number, where, words, final=True)

    def cmd_SUBMIT_DESCRIPTION(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 3 or words[2] != "{inline}":
            raise ValueError("SUBMIT-DESCRIPTION syntax: SUBMIT-DESCRIPTION name {  (submit lines)  }")
        self.dag.descriptions[words[1]] = self.inline

    def cmd_SUBDAG(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) < 4 or words[1].upper() != "EXTERNAL":
            raise ValueError("SUBDAG syntax: SUBDAG EXTERNAL name file.dag [DIR dir] [NOOP] [DONE]")
        node = self._node_line(number, where, words[1:], final=False, kw="SUBDAG EXTERNAL")
        node.subdag = node.submit_file

    def cmd_SPLICE(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) not in (3, 5) or (len(words) == 5 and words[3].upper() != "DIR"):
            raise ValueError("SPLICE syntax: SPLICE name file.dag [DIR dir]")
        name = words[1]
        if name in self.splices or name in self.dag.nodes:
            raise ValueError(f"the splice name {name!r} is used twice")
        if self.depth > 20:
            raise ValueError("splices nest deeper than 20 levels (a splice includes itself?)")
        folder = self.folder / words[4] if len(words) == 5 else self.folder
        path = folder / words[2]
        try:
            text = path.read_text()
        except OSError as err:
            raise ValueError(f"cannot read the spliced DAG {path}: {err.strerror}") from None
        inner = Dag(path=path)
        parser = _Parser(path, inner, depth=self.depth + 1)
        parser.folder = folder
        parser.run(text)
        parser.finish()
        _link(parser, cycles=False)
        self.problems.extend(parser.problems)
        if inner.final is not None:
            self.warn(number, f"the FINAL node of splice {name} is ignored (DAGMan ignores FINAL nodes in splices)")
        initial, terminal = [], []
        for node in inner.nodes.values():
            if node.final:
                continue
            node.name = f"{name}+{node.name}"
            node.parents = [f"{name}+{p}" for p in node.parents]
            node.children = [f"{name}+{c}" for c in node.children]
            if len(words) == 5 and not os.path.isabs(node.directory or ""):
                node.directory = str(Path(words[4]) / node.directory) if node.directory else words[4]
            if not node.parents:
                initial.append(node.name)
            if not node.children:
                terminal.append(node.name)
            self.dag.nodes[node.name] = node
        self.dag.maxjobs.update({k: v for k, v in inner.maxjobs.items() if k not in self.dag.maxjobs})
        self.dag.warnings.extend(inner.warnings)
        self.splices[name] = (initial, terminal)

    def cmd_INCLUDE(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 2:
            raise ValueError("INCLUDE syntax: INCLUDE file")
        if self.depth > 20:
            raise ValueError("INCLUDE nests deeper than 20 levels (a file includes itself?)")
        path = self.folder / words[1]
        try:
            text = path.read_text()
        except OSError as err:
            raise ValueError(f"cannot read the included file {path}: {err.strerror}") from None
        saved, self.path, self.depth = self.path, path, self.depth + 1
        try:
            self.run(text)
        finally:
            self.path, self.depth = saved, self.depth - 1

    def cmd_JOBSTATE_LOG(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) != 2:
            raise ValueError("JOBSTATE_LOG syntax: JOBSTATE_LOG file")
        if self.dag.jobstate_log is not None:
            self.warn(number, "a second JOBSTATE_LOG is ignored; the first one wins")
        else:
            self.dag.jobstate_log = words[1]

    def cmd_VARS(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) < 3:
            raise ValueError('VARS needs a node name and name="value" pairs')
        rest = line.split(None, 2)[2]
        mode = rest.split(None, 1)[0].upper()
        append: Optional[bool] = None
        if mode in ("PREPEND", "APPEND"):
            append = mode == "APPEND"
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
        pairs = parse_vars(rest)
        name = words[1]

        def apply() -> None:
            default = self.dag.config.get("DAGMAN_DEFAULT_APPEND_VARS", "false").lower() in ("true", "1", "yes")
            for node in self.targets(name, where, allow_final=True):
                node.vars.extend(pairs)
                node.vars_append.extend([default if append is None else append] * len(pairs))

        self.later(where, apply)

    def cmd_PARENT(self, number: int, where: str, line: str, words: List[str]) -> None:
        upper = [w.upper() for w in words]
        if "CHILD" not in upper:
            raise ValueError("PARENT needs CHILD: PARENT a b CHILD c d")
        k = upper.index("CHILD")
        parents, children = words[1:k], words[k + 1:]
        if not parents or not children:
            raise ValueError("PARENT ... CHILD ... needs at least one parent and one child")
        self.edges.append((where, parents, children))

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
        if len(words) > i and words[i].upper() == "DEBUG":
            self.warn(number, "SCRIPT DEBUG is ignored: script output goes to the dagman.out log")
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
        script = Script(kind=kind, argv=argv, defer_status=defer_status,
                        defer_time=defer_time, where=where)

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

    def cmd_DOT(self, number: int, where: str, line: str, words: List[str]) -> None:
        self.warn(number, "DOT is ignored by the emulator")


def _link(parser: _Parser, cycles: bool = True) -> None:
    dag = parser.dag
    seen = set()

    def ends(name: str, where: str, first: bool) -> List[Node]:
        splice = parser.splices.get(name)
        if splice is not None:  # a splice's initial nodes are children, its terminal nodes parents
            return [dag.nodes[n] for n in (splice[0] if first else splice[1])]
        return parser.targets(name, where)

    for where, parents, children in parser.edges:
        try:
            ps = [n for name in parents for n in ends(name, where, False)]
            cs = [n for name in children for n in ends(name, where, True)]
        except ValueError as err:
            parser.problems.append(Problem(where, str(err)))
            continue
        for p in ps:
            for c in cs:
                if p.name == c.name:
                    parser.problems.append(Problem(where, f"node {p.name!r} cannot be its own parent"))
                    continue
                if (p.name, c.name) not in seen:
                    seen.add((p.name, c.name))
                    p.children.append(c.name)
                    c.parents.append(p.name)
    if cycles and not parser.problems:
        # DAGMan does not refuse a cycle (DAGMAN_STARTUP_CYCLE_DETECT defaults to false): it runs
        # what it can, then reports the cycle with DAG_STATUS 5. The scheduler does the same.
        dag.cycle = find_cycle(dag.nodes)


def find_cycle(nodes: Dict[str, Node]) -> Optional[List[str]]:
    """A list of node names forming a cycle, or None (iterative DFS, safe for deep DAGs)."""
    state: Dict[str, int] = {}
    for root in nodes:
        if state.get(root):
            continue
        stack = [(root, iter(nodes[root].children))]
        path = [root]
        state[root] = 1
        while stack:
            name, it = stack[-1]
            child = next(it, None)
            if child is None:
                state[name] = 2
                stack.pop()
                path.pop()
                continue
            s = state.get(child, 0)
            if s == 1:
                return path[path.index(child):] + [child]
            if s == 0:
                state[child] = 1
                stack.append((child, iter(nodes[child].children)))
                path.append(child)
    return None


def parse_dag(path: "str | Path", rescue: "str | Path | None" = None) -> Dag:
    """Parse the DAG file at ``path`` (and, when given, a partial rescue DAG applied on top)."""
    path = Path(path).absolute()
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise DagParseError(f"cannot read the DAG file {path}", [Problem(str(path), err.strerror or str(err))]) from None
    except UnicodeDecodeError as err:
        raise DagParseError(f"cannot read the DAG file {path}", [Problem(str(path), (
            f"byte {err.start} is not UTF-8 ({err.reason}); save the DAG file as UTF-8"))]) from None
    dag = Dag(path=path)
    parser = _Parser(path, dag)
    parser.run(text)
    parser.finish()
    _link(parser)
    if rescue is not None:
        rpath = Path(rescue).absolute()
        rparser = _Parser(rpath, dag, rescue=True)
        rparser.run(rpath.read_text())
        rparser.folder = dag.folder
        rparser.finish()
        parser.problems.extend(rparser.problems)
    if parser.problems:
        raise DagParseError.of(f"the DAG {path.name} cannot be run", parser.problems)
    return dag
