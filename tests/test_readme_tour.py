"""First contact with the API works on a bare, offline Debian (issue 20, defects 12 and 13): the
README uses no tool the base system lacks (uuidgen comes from uuid-runtime), every `merx demo`
option it names exists, and /docs and /redoc load nothing from a CDN."""

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


def test_docs_and_redoc_load_their_scripts_from_this_server_not_a_cdn(client):
    import re as _re

    for page, wanted in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = client.get(page)
        assert r.status_code == 200, page
        urls = _re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert any(u.endswith(wanted) for u in urls), (page, urls)
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], (page, urls)  # works offline
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 500, url
    assert client.get("/openapi.json").json()["info"]["title"] == "Merx API"
