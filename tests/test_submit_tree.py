"""The committed submit/coakley2022 tree equals a fresh render of its own spec."""
from __future__ import annotations

from reprogrid.render import render_study
from reprogrid.spec import load_study


def test_committed_coakley2022_rendering_is_fresh(repo, tmp_path):
    committed = repo / "submit" / "coakley2022"
    study = load_study(committed / "study.yaml")
    render_study(study, tmp_path / "fresh", base_dir=committed)
    fresh_files = sorted(p.relative_to(tmp_path / "fresh") for p in (tmp_path / "fresh").rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert fresh_files == committed_files
    stale = [str(rel) for rel in fresh_files if (tmp_path / "fresh" / rel).read_bytes() != (committed / rel).read_bytes()]
    assert not stale, f"re-render submit/coakley2022 (reprogrid render submit/coakley2022/study.yaml -o submit/coakley2022 --force): {stale}"
