"""The experiments notebook runs top to bottom on a real Jupyter kernel against a real smoke study."""
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "analysis" / "notebooks" / "experiments.ipynb"


def test_notebook_executes(smoke_study, monkeypatch):
    db, _ = smoke_study
    monkeypatch.setenv("GANRATOR_DB", str(db))  # the kernel inherits this process's environment
    # this checkout's packages, not those an editable install of another checkout points at
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOK.parents[2]), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "smoke 6 trials" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # figures rendered
