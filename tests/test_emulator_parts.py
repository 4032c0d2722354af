"""Emulator building blocks: VARS parsing, argument splitting, rescue naming, transfers."""
from __future__ import annotations

import pytest

from reprogrid.emulator.starter.argv import split_v2
from reprogrid.emulator.dagman.dagfile import parse_dag
from reprogrid.emulator.dagman.daglex import parse_vars
from reprogrid.condor.matchmaking import split_conjuncts
from reprogrid.emulator.dagman.rescue import format_rescue, next_rescue_path
from reprogrid.emulator.starter.transfer import TransferError, UrlMapper, transfer_inputs, transfer_outputs


def test_vars_quoting_as_dagman_defines():
    assert parse_vars(r'a="x \"y\" \\z" b = "2"') == [("a", 'x "y" \\z'), ("b", "2")]
    assert parse_vars("a=x b='y z'") == [("a", "x"), ("b", "y z")]  # DAGMan's lexer takes bare values too
    for bad in ('a="open', '1bad-name="x"', 'queue_x="1"', 'a='):
        with pytest.raises(ValueError):
            parse_vars(bad)


def test_v2_arguments_split_like_the_starter():
    assert split_v2("a b' 'c ''  'it''s'") == ["a", "b c", "", "it's"]


def test_top_level_conjuncts():
    assert split_conjuncts('(A && B) && (C == "x && y") && D') == ["(A && B)", '(C == "x && y")', "D"]


def test_rescue_numbering_and_format(tmp_path):
    dag = tmp_path / "x.dag"
    dag.write_text("JOB A a.sub\nJOB B a.sub\nRETRY B 2 UNLESS-EXIT 4\nFINAL F f.sub\n")
    assert next_rescue_path(dag).name == "x.dag.rescue001"
    (tmp_path / "x.dag.rescue001").write_text("")
    (tmp_path / "x.dag.rescue009").write_text("")
    assert next_rescue_path(dag).name == "x.dag.rescue010"
    text = format_rescue(parse_dag(dag), ["A", "F"], ["B"])
    assert "DONE A\n" in text and "DONE F" not in text
    assert "RETRY" not in text and "# Rescue DAG version: 2.1.0\n" in text  # dag.cpp WriteRescue
    kept = format_rescue(parse_dag(dag), ["A"], ["B"], retries={"B": 1})  # RESET_RETRIES_UPON_RESCUE = false
    assert "# 1 of 2 retries already performed; 1 remaining\nRETRY B 1 UNLESS-EXIT 4" in kept


def test_rescue_dag_marks_nodes_done(tmp_path):
    dag = tmp_path / "x.dag"
    dag.write_text("JOB A a.sub\nJOB B a.sub\n")
    rescue = tmp_path / "x.dag.rescue001"
    rescue.write_text("# comment\nDONE A\n")
    parsed = parse_dag(dag, rescue=rescue)
    assert parsed.nodes["A"].done and not parsed.nodes["B"].done


def test_inputs_by_url_mapping_and_outputs_merge(tmp_path):
    data = tmp_path / "osdf"
    (data / "sets").mkdir(parents=True)
    (data / "sets" / "m.npz").write_text("npz")
    iwd, box = tmp_path / "iwd", tmp_path / "box"
    iwd.mkdir(); box.mkdir()
    (iwd / "local.txt").write_text("L")
    urls = UrlMapper({"osdf:///ospool/ap40/data/me": data})
    transfer_inputs(["local.txt", "osdf:///ospool/ap40/data/me/sets/m.npz"], iwd, box, urls)
    assert (box / "m.npz").read_text() == "npz" and (box / "local.txt").read_text() == "L"
    with pytest.raises(TransferError, match="--map-url"):
        transfer_inputs(["https://example.org/x.csv"], iwd, box, urls)
    (iwd / "results").mkdir()
    (iwd / "results" / "old.json").write_text("old")
    (box / "results").mkdir()
    (box / "results" / "new.json").write_text("new")
    (box / "a.txt").write_text("A")
    transfer_outputs(["results", "a.txt"], {"a.txt": "renamed/a2.txt"}, box, iwd, set(), 0)
    assert sorted(p.name for p in (iwd / "results").iterdir()) == ["new.json", "old.json"]
    assert (iwd / "renamed" / "a2.txt").read_text() == "A"
    with pytest.raises(TransferError):
        transfer_outputs(["missing"], {}, box, iwd, set(), 0)
