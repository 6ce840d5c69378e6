"""The layering contracts (`.importlinter`) hold, and every context has its place in them.

`.ci/run` runs `lint-imports` before the suite; this test makes the README's test command
catch a broken contract too, on a developer's machine."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from merx.contexts import CONTEXTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "merx"


def test_lint_imports_keeps_every_contract() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"],  # reads .importlinter
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_context_package_has_a_place_in_the_layers() -> None:
    """A new context must be placed in the declared dependency direction (and in the
    contracts' lists), else nothing checks what it imports."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:context-layers"]["layers"]
    placed = {name.strip() for line in layers.split("\n") for name in line.split("|") if name.strip()}
    present = {name for name in CONTEXTS if (PACKAGE / name / "__init__.py").exists()}
    assert present - placed == set(), "contexts missing from the layers contract in .importlinter"
    forbidden_sources = set(config["importlinter:contract:contexts-do-not-import-entry-points"]["source_modules"].split())
    assert {f"merx.{name}" for name in present - {"web"}} - forbidden_sources == set()
