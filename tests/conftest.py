"""Shared fixtures: a copy of the bundle's layout with data in it, and small synthetic files."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bundle_files():
    """The files a user's checkout has: top-level scripts and the data preparation scripts."""
    return [p for p in ROOT.glob("*.py")] + [ROOT / "requirements.txt"]


def copy_bundle(dest):
    """The bundle's layout in `dest`, without any data or model."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in bundle_files():
        shutil.copy(path, dest / path.name)
    shutil.copytree(ROOT / "data" / "limesoda", dest / "data" / "limesoda")
    return dest


def run(script, *args, cwd):
    """Run a script of the bundle in `cwd` as a user would, returning the completed process."""
    return subprocess.run(
        [sys.executable, script, *map(str, args)], cwd=cwd, capture_output=True, text=True
    )


def raw_frame(rows=20, channels=400, targets=("CuPPM", "AuPPM"), seed=0):
    """A raw file's frame: metadata, spectra named by wavenumber (descending), targets."""
    rng = np.random.default_rng(seed)
    wavenumbers = np.linspace(3800, 550, channels)
    spectra = rng.uniform(0.1, 2.0, (rows, channels)).cumsum(axis=1) / channels
    frame = pd.DataFrame(spectra, columns=[f"{w:.1f}" for w in wavenumbers])
    frame.insert(0, "SiteID", rng.integers(1, 4, rows))
    frame.insert(1, "DepthFrom", rng.uniform(0, 100, rows).round(2))
    frame.insert(2, "DepthTo", frame.DepthFrom + 1)
    for name in targets:
        frame[name] = spectra[:, rng.integers(channels, size=3)].sum(axis=1) + rng.normal(
            0, 0.1, rows
        )
    frame.index = [f"S{i:04d}" for i in range(rows)]
    frame.index.name = "SampleID"
    return frame


@pytest.fixture(scope="session")
def limesoda_file(tmp_path_factory):
    """The default data set, built once by its prepare script."""
    out = tmp_path_factory.mktemp("limesoda") / "public.csv.gz"
    done = run(ROOT / "data" / "limesoda" / "prepare.py", "--output", out, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def bundle(tmp_path, limesoda_file):
    """A fresh copy of the bundle with the default data in data/public."""
    dest = copy_bundle(tmp_path / "bundle")
    (dest / "data" / "public").mkdir(parents=True)
    shutil.copy(limesoda_file, dest / "data" / "public" / "public.csv.gz")
    return dest
