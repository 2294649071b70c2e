"""Lab notebooks run in kernels on private IPC sockets: no TCP port, no warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes.site.notebooks import use_ipc

pytestmark = pytest.mark.slow  # starts a Jupyter kernel


def test_a_lab_kernel_uses_ipc_and_prints_no_tcp_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import mkdocs_jupyter.nbconvert2 as nb2

    lab = tmp_path / "lab.py"
    lab.write_text(
        "# %%\n"
        "from ipykernel.kernelapp import IPKernelApp\n"
        "app = IPKernelApp.instance()\n"
        "print('transport', app.transport, 'ip-in-private-dir', "
        "app.ip.startswith('/'))\n",
        encoding="utf-8",
    )
    assert use_ipc()
    assert use_ipc()  # patched once
    html = nb2.nb2html(str(lab), execute=True, kernel_name="python3")
    assert "transport ipc ip-in-private-dir True" in html
    out, err = capfd.readouterr()
    assert "running over TCP" not in out + err
