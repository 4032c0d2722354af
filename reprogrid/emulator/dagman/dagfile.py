"""Parse a DAG input file (the DAGMan language the dry run supports) into a ``Dag``.

Supported: JOB / FINAL / SERVICE (DIR, NOOP, DONE; inline ``{ ... }`` descriptions),
SUBMIT-DESCRIPTION, SUBDAG EXTERNAL, SPLICE (DIR) with CONNECT / PIN_IN / PIN_OUT, INCLUDE, VARS (PREPEND/APPEND; quoted
or bare values), PARENT/CHILD (many-to-many, splices as parents or children), REJECT, and
the node options of ``dagoptions`` (RETRY, SCRIPT, PRE_SKIP, ABORT-DAG-ON, CATEGORY,
MAXJOBS, PRIORITY, NODE_STATUS_FILE, JOBSTATE_LOG, CONFIG, DONE, DOT); comments (``#``,
``//``) and trailing-backslash continuations (``daglex``). Keywords match as DAGMan's
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
from reprogrid.emulator.dagman.daglex import integer as _int, parse_vars, raw_lines as _raw_lines, skip as _skip, tokens
from reprogrid.emulator.dagman.dagoptions import NodeOptions
from reprogrid.emulator.dagman.model import Dag, Node

ALL_NODES = "ALL_NODES"


class DagParseError(UserError):
    """The DAG file cannot be parsed: condor_dagman exits 1 on a parse error, and so does the dry run."""

    exit_code = 1

_FLATTEN = "; write the DAG without it, or check it on an access point with condor_submit_dag"
_UNSUPPORTED = {
    "PROVISIONER": "PROVISIONER nodes provision resources for the DAG: the dry run does not emulate them" + _FLATTEN,
    "SET_JOB_ATTR": "SET_JOB_ATTR changes the DAGMan job's own ad, which the dry run does not have" + _FLATTEN,
    "ENV": "ENV sets DAGMan's own environment, which the dry run does not emulate" + _FLATTEN,
    "SAVE_POINT_FILE": "SAVE_POINT_FILE is not emulated" + _FLATTEN,
    "PARENT_WEAK": "weak edges are not emulated" + _FLATTEN,
    "WEAK": "weak edges are not emulated" + _FLATTEN,
    "DATA": "DATA nodes are not emulated" + _FLATTEN,
    "TOLERANCE": "TOLERANCE is not emulated" + _FLATTEN,
}


class _Parser(NodeOptions):
    def __init__(self, path: Path, dag: Dag, rescue: bool = False, depth: int = 0) -> None:
        self.path = path
        self.dag = dag
        self.rescue = rescue
        self.depth = depth
        self.problems: List[Problem] = []
        self.deferred: List[Tuple[str, Callable[[], None]]] = []  # applied after all JOB lines
        self.edges: List[Tuple[str, List[str], List[str]]] = []
        self.splices: Dict[str, Tuple[List[str], List[str]]] = {}  # name -> (initial, terminal) nodes
        self.pins: Dict[str, Tuple[Dict[int, List[str]], Dict[int, List[str]]]] = {}  # splice -> (in, out)
        self.connects: List[Tuple[str, str, str]] = []  # (where, output splice, input splice)
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
            return [n for n in self.dag.nodes.values() if not n.final and not n.service]
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

    def cmd_SERVICE(self, number: int, where: str, line: str, words: List[str]) -> None:
        """The manual: "A SERVICE node is a special type of node that is always run at the
        beginning of a DAG" ... "If a DAGMan workflow finishes while there are SERVICE nodes
        still running, it will remove all running SERVICE nodes and exit." """
        node = self._node_line(number, where, words, final=False, kw="SERVICE")
        node.service = True

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
            node.category = _spliced_category(name, node.category)
            node.parents = [f"{name}+{p}" for p in node.parents]
            node.children = [f"{name}+{c}" for c in node.children]
            if len(words) == 5 and not os.path.isabs(node.directory or ""):
                node.directory = str(Path(words[4]) / node.directory) if node.directory else words[4]
            if not node.parents:
                initial.append(node.name)
            if not node.children:
                terminal.append(node.name)
            self.dag.nodes[node.name] = node
        # "settings at a higher level in the DAG override settings at a lower level": a limit
        # the upper DAG set before this line stays; one it sets after it replaces the splice's
        for category, limit in inner.maxjobs.items():
            self.dag.maxjobs.setdefault(_spliced_category(name, category) or category, limit)
        if inner.reject is not None and self.dag.reject is None:
            self.dag.reject = inner.reject
        self.dag.warnings.extend(inner.warnings)
        self.splices[name] = (initial, terminal)
        self.pins[name] = tuple({k: [f"{name}+{n}" for n in v] for k, v in pins.items()}  # type: ignore[assignment]
                                for pins in (inner.pins_in, inner.pins_out))

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

    def cmd_CONNECT(self, number: int, where: str, line: str, words: List[str]) -> None:
        """CONNECT OutputSpliceName InputSpliceName: "All output splice nodes connected to a
        given PIN_OUT will become parents of all input splice nodes connected to the
        corresponding PIN_IN." """
        if len(words) != 3:
            raise ValueError("CONNECT syntax: CONNECT OutputSpliceName InputSpliceName")
        self.connects.append((where, words[1], words[2]))

    def cmd_PIN_IN(self, number: int, where: str, line: str, words: List[str]) -> None:
        self._pin(where, words, self.dag.pins_in, "PIN_IN")

    def cmd_PIN_OUT(self, number: int, where: str, line: str, words: List[str]) -> None:
        self._pin(where, words, self.dag.pins_out, "PIN_OUT")

    def _pin(self, where: str, words: List[str], pins: Dict[int, List[str]], kw: str) -> None:
        if len(words) != 3:
            raise ValueError(f"{kw} syntax: {kw} NodeName PinNumber")
        number = _int(words[2], f"the {kw} number")
        if number < 1:
            raise ValueError(f"{kw} numbers start at 1, not {number}")
        name = words[1]

        def apply() -> None:
            self.targets(name, where)  # the node must exist
            pins.setdefault(number, []).append(name)

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


def _connect(parser: _Parser, out: str, into: str, seen: set) -> None:
    """One CONNECT, with the manual's restrictions: two splices, pins numbered from 1, the
    output's PIN_OUTs matching the input's PIN_INs, every initial node of the input pinned."""
    for name in (out, into):
        if name not in parser.pins:
            raise ValueError(f"CONNECT needs two splices: {name!r} is not a splice")
    pins_out, pins_in = parser.pins[out][1], parser.pins[into][0]
    for splice, pins, kw in ((out, pins_out, "PIN_OUT"), (into, pins_in, "PIN_IN")):
        if sorted(pins) != list(range(1, len(pins) + 1)):
            raise ValueError(f"the {kw}s of splice {splice} must be numbered consecutively from 1: {sorted(pins)}")
    if len(pins_out) != len(pins_in):
        raise ValueError(f"splice {out} has {len(pins_out)} PIN_OUTs but splice {into} has {len(pins_in)} PIN_INs")
    pinned = {n for nodes in pins_in.values() for n in nodes}
    loose = [n for n in parser.splices[into][0] if n not in pinned]
    if loose:
        raise ValueError(f"the initial node(s) {', '.join(loose)} of splice {into} are not connected to a PIN_IN")
    dag = parser.dag
    for number, parents in pins_out.items():
        for p in parents:
            for c in pins_in[number]:
                if (p, c) not in seen:
                    seen.add((p, c))
                    dag.nodes[p].children.append(c)
                    dag.nodes[c].parents.append(p)


def _spliced_category(splice: str, category: Optional[str]) -> Optional[str]:
    """A splice's category as the upper DAG names it: ``splice+cat``, or ``+cat`` (global)
    as it is (the manual: "Non-global category names are prefixed with their splice name(s)")."""
    if category is None or category.startswith("+"):
        return category
    return f"{splice}+{category}"


def _link(parser: _Parser, cycles: bool = True) -> None:
    dag = parser.dag
    seen = set()

    def ends(name: str, where: str, first: bool) -> List[Node]:
        splice = parser.splices.get(name)
        if splice is not None:  # a splice's initial nodes are children, its terminal nodes parents
            return [dag.nodes[n] for n in (splice[0] if first else splice[1])]
        found = parser.targets(name, where)
        if any(n.service for n in found):
            raise ValueError(f"the SERVICE node {name!r} cannot have parents or children")
        return found

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
    for where, out, into in parser.connects:
        try:
            _connect(parser, out, into, seen)
        except ValueError as err:
            parser.problems.append(Problem(where, str(err)))
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
    if dag.reject is not None:
        raise DagParseError.of(f"the DAG {path.name} is marked REJECT", [Problem(
            dag.reject, "Exiting because of REJECT specification (as condor_dagman does): remove the REJECT line to run it")])
    dag.rescue_file = Path(rescue).absolute() if rescue is not None else None
    return dag
