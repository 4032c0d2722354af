"""Parse a DAG input file (the supported subset of the DAGMan language) into a ``Dag``.

Supported: JOB (DIR, NOOP, DONE), FINAL, VARS (PREPEND/APPEND accepted with a warning),
PARENT/CHILD (many-to-many), RETRY n [UNLESS-EXIT v], SCRIPT [DEFER s t] PRE|POST,
PRE_SKIP, ABORT-DAG-ON n v [RETURN r], CATEGORY, MAXJOBS, PRIORITY, NODE_STATUS_FILE,
CONFIG, DONE, DOT (ignored with a warning), comments and trailing-backslash
continuations. ``ALL_NODES`` works where DAGMan allows it (never for the FINAL node).
Anything else (SPLICE, SUBDAG EXTERNAL, INCLUDE, ...) is a ``UserError`` naming the file
and line. Unknown node names and cycles are errors too.
"""
from __future__ import annotations

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
}
_UNSUPPORTED = {
    "SPLICE", "SUBDAG", "INCLUDE", "SERVICE", "PROVISIONER", "SET_JOB_ATTR", "ENV",
    "JOBSTATE_LOG", "REJECT", "DATA", "SAVE_POINT_FILE", "CONNECT", "PIN_IN", "PIN_OUT",
}


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Join backslash continuations; drop comments and blank lines. Keeps first line numbers."""
    out: List[Tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not pending:
            start = number
            if line.lstrip().startswith("#") or not line.strip():
                continue
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


def parse_vars(text: str) -> List[Tuple[str, str]]:
    """Parse ``name="value" name2="value2"`` as DAGMan does: ``\\"`` is a quote, ``\\\\`` a backslash.

    Raises ``ValueError`` with a readable message on bad syntax.
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
            j += 1
        name = text[i:j]
        while j < n and text[j].isspace():
            j += 1
        if j >= n or text[j] != "=":
            raise ValueError(f'expected name="value" but found {text[i:].strip()!r}')
        j += 1
        while j < n and text[j].isspace():
            j += 1
        if j >= n or text[j] != '"':
            raise ValueError(f'the value of {name!r} must be in double quotes: {name}="..."')
        j += 1
        value: List[str] = []
        while True:
            if j >= n:
                raise ValueError(f'the value of {name!r} has no closing double quote')
            ch = text[j]
            if ch == "\\" and j + 1 < n and text[j + 1] in ('"', "\\"):
                value.append(text[j + 1])
                j += 2
                continue
            if ch == '"':
                j += 1
                break
            value.append(ch)
            j += 1
        if not name or not _MACRO_NAME.match(name):
            raise ValueError(
                f"bad macro name {name!r}: use letters, digits and underscores (or +Attr / My.Attr)"
            )
        if name.lower().startswith("queue"):
            raise ValueError(f"macro name {name!r} may not begin with 'queue'")
        pairs.append((name, "".join(value)))
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
    def __init__(self, path: Path, dag: Dag, rescue: bool = False) -> None:
        self.path = path
        self.dag = dag
        self.rescue = rescue
        self.problems: List[Problem] = []
        self.deferred: List[Tuple[str, Callable[[], None]]] = []  # applied after all JOB lines
        self.edges: List[Tuple[str, List[str], List[str]]] = []

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def warn(self, line: int, message: str) -> None:
        self.dag.warnings.append(f"{self.where(line)}: {message}")

    def run(self, text: str) -> None:
        for number, line in _logical_lines(text):
            try:
                self.command(number, line)
            except ValueError as err:
                self.problems.append(Problem(self.where(number), str(err)))

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
    def command(self, number: int, line: str) -> None:
        words = line.split()
        keyword = words[0].upper()
        where = self.where(number)
        if self.rescue and keyword not in ("DONE", "RETRY"):
            raise ValueError(f"a partial rescue DAG may only hold DONE and RETRY lines, not {words[0]}")
        handler = getattr(self, "cmd_" + keyword.replace("-", "_"), None)
        if handler is None:
            if keyword in _UNSUPPORTED:
                raise ValueError(
                    f"{words[0]} is outside the subset the emulator supports (JOB, FINAL, VARS, "
                    "PARENT/CHILD, RETRY, SCRIPT, PRE_SKIP, ABORT-DAG-ON, CATEGORY, MAXJOBS, "
                    "PRIORITY, NODE_STATUS_FILE, CONFIG, DONE); flatten the DAG or run it on a real access point"
                )
            raise ValueError(f"unknown DAG command {words[0]!r}")
        handler(number, where, line, words)

    def _node_line(self, number: int, where: str, words: List[str], final: bool) -> None:
        kw = "FINAL" if final else "JOB"
        if len(words) < 3:
            raise ValueError(f"{kw} needs a node name and a submit file: {kw} name file.sub")
        name, submit = words[1], words[2]
        if name.upper() in (ALL_NODES, "PARENT", "CHILD"):
            raise ValueError(f"{name!r} is a reserved word and cannot name a node")
        if name in self.dag.nodes:
            raise ValueError(f"node {name!r} is declared twice (first at {self.dag.nodes[name].where})")
        node = Node(name=name, submit_file=submit, final=final, where=where)
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

    def cmd_JOB(self, number: int, where: str, line: str, words: List[str]) -> None:
        self._node_line(number, where, words, final=False)

    def cmd_FINAL(self, number: int, where: str, line: str, words: List[str]) -> None:
        self._node_line(number, where, words, final=True)

    def cmd_VARS(self, number: int, where: str, line: str, words: List[str]) -> None:
        if len(words) < 3:
            raise ValueError('VARS needs a node name and name="value" pairs')
        rest = line.split(None, 2)[2]
        mode = rest.split(None, 1)[0].upper()
        if mode in ("PREPEND", "APPEND"):
            self.warn(number, f"VARS {mode}: the emulator applies every VARS value after the submit file (APPEND)")
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
        pairs = parse_vars(rest)
        name = words[1]

        def apply() -> None:
            for node in self.targets(name, where, allow_final=True):
                node.vars.extend(pairs)

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
        if len(words) not in (3, 5) or (len(words) == 5 and words[3].upper() != "UNLESS-EXIT"):
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
            self.warn(number, "SCRIPT HOLD is ignored: the emulator never holds a job")
            return
        if kind not in ("PRE", "POST"):
            raise ValueError(f"script type must be PRE or POST, not {words[i]!r}")
        name = words[i + 1]
        script = Script(kind=kind, argv=words[i + 2:], defer_status=defer_status,
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


def _link(parser: _Parser) -> None:
    dag = parser.dag
    seen = set()
    for where, parents, children in parser.edges:
        try:
            ps = [n for name in parents for n in parser.targets(name, where)]
            cs = [n for name in children for n in parser.targets(name, where)]
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
    if not parser.problems:
        cycle = find_cycle(dag.nodes)
        if cycle:
            parser.problems.append(Problem(str(dag.path), "the DAG has a cycle: " + " -> ".join(cycle)))


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
        text = path.read_text()
    except OSError as err:
        raise UserError(f"cannot read the DAG file {path}", [Problem(str(path), err.strerror or str(err))]) from None
    dag = Dag(path=path)
    parser = _Parser(path, dag)
    parser.run(text)
    parser.finish()
    _link(parser)
    if rescue is not None:
        rpath = Path(rescue).absolute()
        rparser = _Parser(rpath, dag, rescue=True)
        rparser.run(rpath.read_text())
        rparser.finish()
        parser.problems.extend(rparser.problems)
    if parser.problems:
        raise UserError.of(f"the DAG {path.name} cannot be run", parser.problems)
    return dag
