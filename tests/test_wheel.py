"""`pip install .` (not editable) into a fresh virtual environment works."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_installed_wheel_renders_a_report(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bindir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    install = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    rng = np.random.default_rng(3)
    work = tmp_path / "work"
    work.mkdir()
    pd.DataFrame({"x": rng.normal(0, 1, 500), "c": rng.choice(["a", "b"], 500)}).to_csv(work / "ref.csv", index=False)
    pd.DataFrame({"x": rng.normal(2, 1, 500), "c": rng.choice(["a", "b"], 500)}).to_csv(work / "cur.csv", index=False)
    where = subprocess.run([str(bindir / "python"), "-c", "import monitor; print(monitor.__file__)"],
                           capture_output=True, text=True, cwd=work)
    assert str(env_dir) in where.stdout, where.stdout + where.stderr
    run = subprocess.run([str(bindir / "drift-monitor"), "compare-files", "ref.csv", "cur.csv", "--report", "out.html"],
                         capture_output=True, text=True, cwd=work, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    html = (work / "out.html").read_text()
    assert "<svg" in html and ">x<" in html and "cur.csv" in html
