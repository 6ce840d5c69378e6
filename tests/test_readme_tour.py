"""The README's first commands run on a bare Debian (issue 20, defect 13): no tool the base
system lacks (uuidgen comes from uuid-runtime), and every `merx demo` option it names exists."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_api_tour_makes_its_idempotency_key_with_python_not_uuidgen():
    assert "uuidgen" not in README
    keys = re.findall(r'Idempotency-Key: \$\((.+?)\)"', README)
    assert keys, "the tour shows an Idempotency-Key made by a command"
    for command in keys:  # runs as the reader's shell would, with only python3 on PATH besides the shell
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True,
                             env={"PATH": "/usr/bin:/bin"}).stdout.strip()
        assert uuid.UUID(out).version == 4


def test_every_merx_demo_option_in_the_readme_exists_and_port_is_documented():
    from typer.testing import CliRunner

    from merx.cli import app

    named = set()
    for line in README.splitlines():
        if "merx demo" in line:
            named |= set(re.findall(r"--[a-z][a-z-]*", line.split("merx demo", 1)[1]))
    assert "--port" in named and "--host" in named
    help_text = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"}).output
    assert not {o for o in named if o not in help_text}, help_text
