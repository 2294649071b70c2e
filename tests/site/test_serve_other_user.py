"""Another local account cannot use ``mkdocs serve`` to read a token, run code or edit.

A real second uid (``nobody``, via ``setpriv``) against a real ``mkdocs serve`` of a
small site whose folder it can read: it gets pages without token or controls, its
requests to run code or resolve a question are refused (403), the note is unchanged,
no kernel starts, and it cannot read the 0600 file with the login link. Needs root
(as ``make test`` runs in CI); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.sites import Served, make_site

SETPRIV = shutil.which("setpriv")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None,
    reason="needs root and setpriv to run a request as the user nobody",
)

RUN_PAGE = """\
# 演示

```python
print("ran")
```
"""

# What the other account tries, with the standard library only.
ATTACK = r"""
import json, re, sys, urllib.error, urllib.request
url, login_file, log_file, note = sys.argv[1:5]
port = url.rsplit(":", 1)[1]
out = {}

def request(path, body=None, headers=None):
    req = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Origin": url, **(headers or {})},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()

out["pages"] = [request(p) for p in ("/cnn/sharing/", "/run/demo/")]
out["static"] = request("/__dlnotes__/static/api.js")[0]
out["login"] = request("/__dlnotes__/login?token=guess")[0]
guess = {"X-Dlnotes-Token": "x" * 43, "Cookie": f"dlnotes-session-{port}=guess"}
# any token a page lets slip, as an attacker would use it
found = re.search(r'"token": "([^"]+)"', out["pages"][0][1])
stolen = {"X-Dlnotes-Token": found[1] if found else "none"}
run = {"action": "run", "page": "run/demo.md", "block": 1, "code": "open('x','w')"}
resolve = {"action": "resolve", "id": "Q-cnn-01", "answer": "pwned"}
tries = ({}, guess, stolen)
out["run"] = [request("/__dlnotes__/api", run, h)[0] for h in tries]
out["resolve"] = [request("/__dlnotes__/api", resolve, h)[0] for h in tries]
for name, path in (("login_file", login_file), ("log_file", log_file)):
    try:
        open(path, encoding="utf-8").read()
        out[name] = "read"
    except OSError as exc:
        out[name] = type(exc).__name__
out["note_readable"] = "Q-cnn-01" in open(note, encoding="utf-8").read()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def world_readable_site() -> Iterator[Served]:
    root = Path(tempfile.mkdtemp(prefix="dlnotes-other-user-"))
    make_site(root)
    (root / "docs/run").mkdir()
    (root / "docs/run/demo.md").write_text(RUN_PAGE, encoding="utf-8")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    server = Served(root)
    # open the folders on the way: only the file's own mode protects the link
    for folder in (server.runtime, server.login_file.parent):
        folder.chmod(0o755)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_nobody_cannot_read_a_token_run_code_or_edit(
    world_readable_site: Served,
) -> None:
    served = world_readable_site
    note = served.root / "docs/cnn/sharing.md"
    before = note.read_bytes()
    assert served.login_file.stat().st_mode & 0o777 == 0o600
    assert served.log.stat().st_mode & 0o777 == 0o600
    proc = subprocess.run(
        [
            str(SETPRIV),
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            ATTACK,
            served.url,
            str(served.login_file),
            str(served.log),
            str(note),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["note_readable"]  # the notes themselves are readable: a fair test
    for status, html in out["pages"]:
        assert status == 200
        assert '"token"' not in html and "dlnotes-config" not in html
        assert served.cookie.split("=", 1)[1] not in html
        assert "/__dlnotes__/static/" not in html
    assert "dlnotes resolve Q-cnn-01" in out["pages"][0][1]  # the CLI hint instead
    assert out["static"] == 200  # the scripts are public; they hold no secret
    assert out["login"] == 403
    assert out["run"] == [403, 403, 403]
    assert out["resolve"] == [403, 403, 403]
    assert out["login_file"] == "PermissionError"
    assert out["log_file"] == "PermissionError"
    assert note.read_bytes() == before
    kids = psutil.Process(served.proc.pid).children(recursive=True)
    assert not [p for p in kids if "ipykernel" in " ".join(p.cmdline())]
    assert not (served.root / "x").exists()
