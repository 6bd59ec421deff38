"""eda.py: run as a user runs it on small files, then look at what it wrote."""
import matplotlib.image
import numpy as np
import pandas as pd

from conftest import ROOT, raw_frame, run
from preprocess import TARGETS

FIGURES = ["depth_intervals_per_site.png", "target_distributions.png",
           "mean_spectrum_with_spread.png", "feature_target_correlation.png"]


def challenge_file(path, rows=30, seed=0):
    """A challenge-shaped file: 49 assays, CuPPM spanning decades, below-detection codes."""
    frame = raw_frame(rows=rows, channels=400, targets=TARGETS, seed=seed)
    rng = np.random.default_rng(seed)
    frame["CuPPM"] = np.exp(rng.normal(3, 2, rows))  # about 6 decades
    frame.loc[frame.index[:3], "CuPPM"] = -50.0
    frame.loc[frame.index[5:7], "AuPPM"] = -0.01
    frame.loc[frame.index[8], "AuPPM"] = -1.0
    frame.to_csv(path)
    return path


def assert_drawn(path):
    """A PNG of a sensible size with something drawn on it (not a blank canvas)."""
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300, path
    assert image[..., :3].std() > 0.05, f"{path} looks blank"


def test_eda_on_a_challenge_shaped_file(tmp_path):
    data = challenge_file(tmp_path / "challenge.csv.gz")
    done = run("eda.py", "--input", data, "--output", tmp_path / "eda", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for name in FIGURES + ["spectra_highest_lowest_CuPPM.png"]:  # CuPPM weighs most
        assert_drawn(tmp_path / "eda" / name)

    summary = pd.read_csv(tmp_path / "eda" / "target_summary.csv", index_col=0)
    assert list(summary.index) == TARGETS
    assert summary.loc["CuPPM", "below detection"] == 3
    assert summary.loc["AuPPM", "below detection"] == 3
    assert set(summary.loc["AuPPM", "codes"].split()) == {"-1", "-0.01"}
    assert summary["below detection"].drop(["CuPPM", "AuPPM"]).eq(0).all()
    assert summary.loc["CuPPM", "decades"] > 2 > summary.loc["AgPPM", "decades"]
    assert "CuPPM" in done.stdout and "below detection" in done.stdout


def test_eda_on_a_users_file_draws_the_first_target_on_equal_weights(tmp_path):
    frame = raw_frame(rows=25, channels=350, targets=("ClayPCT", "pH"), seed=2)
    frame = frame.drop(columns=["DepthFrom", "DepthTo"])
    frame.to_csv(tmp_path / "mine.csv")
    done = run("eda.py", "--input", tmp_path / "mine.csv", "--output", tmp_path / "eda",
               cwd=ROOT)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "eda").glob("*.png"))
    assert written == sorted(set(FIGURES) - {"depth_intervals_per_site.png"}
                             | {"spectra_highest_lowest_ClayPCT.png"})
