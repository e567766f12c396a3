"""Documentation that is generated from the code stays in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_matches_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in readme
    assert "./scripts/test" in ci


def test_readme_project_layout_matches_the_tree() -> None:
    """Every top-level module and package of src/paperfeed is in the README's layout, and
    everything the layout names exists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Project layout", 1)[1]
    block = section.split("```", 2)[1]
    listed = {
        line.split()[0].rstrip("/")
        for line in block.splitlines()[2:]
        if line.startswith("  ") and not line.startswith("   ")
    }
    package = ROOT / "src" / "paperfeed"
    present = {
        path.name.removesuffix(".py") if path.suffix == ".py" else path.name
        for path in package.iterdir()
        if path.name not in ("__init__.py", "__pycache__")
        and (path.suffix == ".py" or path.is_dir())
    }
    listed_names = {name.removesuffix(".py") for name in listed}
    assert listed_names == present
    for top in ("tests", "benchmarks", "docs"):
        assert f"\n{top}/" in block and (ROOT / top).is_dir()
