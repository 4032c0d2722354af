"""Install hook: ship the top-level templates/ and singularity/ folders inside the package.

The design keeps `templates/` and `singularity/` at the top of the repository so users
can read and override them, but an installed (non-editable) package must carry them too.
They are mapped to `reprogrid/_templates` and `reprogrid/_singularity`; the package finds
them there, or at the repository top level when run from a source checkout.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
MAPPED = {"templates": "_templates", "singularity": "_singularity"}


class BuildWithTemplates(build_py):
    def run(self) -> None:
        super().run()
        for source, target in MAPPED.items():
            for path in sorted((HERE / source).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    rel = path.relative_to(HERE / source)
                    dest = Path(self.build_lib) / "reprogrid" / target / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    self.copy_file(str(path), str(dest))


setup(cmdclass={"build_py": BuildWithTemplates})
