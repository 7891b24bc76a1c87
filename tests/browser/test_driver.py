"""The browser test can fail: a notebook with an error cell, run in its own small JupyterLab,
is reported with the cell and the exception, and the cells after it count as not run."""

from __future__ import annotations

import os

import nbformat
import pytest
from labdriver import JupyterServer, Lab, error_outputs, unexecuted

from tlcourse.course import KERNEL


@pytest.fixture
def broken_notebook_dir(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# A notebook that fails"),
             nbformat.v4.new_code_cell("x = 1"),
             nbformat.v4.new_code_cell(""),
             nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
             nbformat.v4.new_code_cell("y = 2")]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": dict(KERNEL)})
    nbformat.write(nb, tmp_path / "broken.ipynb")
    return tmp_path


def test_an_error_cell_is_reported(broken_notebook_dir, browser_context, jupyter_server):
    server = JupyterServer(notebook_dir=broken_notebook_dir, env=dict(jupyter_server.env))
    try:
        server.start()
        lab = Lab(server, browser_context, timeout_s=300)
        try:
            lab.open("broken.ipynb")
            st = lab.run_all()
            assert not lab.ran_clean
            assert error_outputs(st["cells"]) == [
                "cell 3 (\"raise ValueError('broken on purpose')\"): ValueError: broken on purpose"]
            assert unexecuted(st["cells"]) == [4]  # the empty cell 2 is not counted
        finally:
            lab.close()
    finally:
        server.stop()
    assert not os.path.exists(server.tmp)  # its config, settings and checkpoints are gone
    assert sorted(p.name for p in broken_notebook_dir.iterdir()) == ["broken.ipynb"]
