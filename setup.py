"""Copies the example specs of problems/ into the package (hwsolve/problems/) when it is built.

Why a build step and not a move or a symlink: problems/ stays the one folder that the docs, the
tests and every contributor's branch use, and the copy is made by the same `build_py` that builds
both the wheel from the repo and the wheel from the sdist (which carries problems/ through
MANIFEST.in). A symlink would break on Windows clones and depends on how each tool follows it.
Everything else about the package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithExamples(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "hwsolve" / "problems"
        target.mkdir(parents=True, exist_ok=True)
        for spec in sorted((HERE / "problems").glob("*.yaml")):
            shutil.copyfile(spec, target / spec.name)


setup(cmdclass={"build_py": BuildPyWithExamples})
