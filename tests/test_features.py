"""The feature recipe equals the reference computed the pandas way (DESIGN §3)."""
import numpy as np
import pandas as pd
import pytest

from conftest import raw_frame
from preprocess import preprocess, split_columns, window_features


def reference(spectra, start=0, stop=-300, window=7):
    """The reference solution's recipe: clip and scale by the range's max, rolling sums."""
    part = spectra.iloc[:, start:stop]
    hi, lo = part.max(axis=1), part.min(axis=1)
    normed = spectra.clip(lower=lo, upper=hi, axis=0).div(hi, axis=0)
    rolled = normed.T.rolling(window, min_periods=1).sum().T
    return rolled.iloc[:, ::window]


@pytest.mark.parametrize("channels", [301, 302, 307, 308, 350, 1000, 1686, 1700])
@pytest.mark.parametrize("window", [1, 3, 7, 10])
def test_features_equal_pandas_reference(channels, window):
    raw = raw_frame(rows=13, channels=channels, seed=channels + window)
    _, spectra, _ = split_columns(raw.columns)
    expected = reference(raw[spectra], window=window)
    values, idx = window_features(raw[spectra].to_numpy(), window=window)
    assert [spectra[i] for i in idx] == list(expected.columns)
    np.testing.assert_allclose(values, expected.to_numpy(), rtol=0, atol=1e-9)


def test_features_equal_plain_loops():
    raw = raw_frame(rows=3, channels=320, seed=5)
    s = raw.iloc[:, 3:-2].to_numpy()
    values, _ = window_features(s)
    for i, row in enumerate(s):
        hi, lo = row[:-300].max(), row[:-300].min()
        normed = [min(max(v, lo), hi) / hi for v in row]
        for k in range(values.shape[1]):
            expected = sum(normed[max(0, 7 * k - 6) : 7 * k + 1])
            assert abs(values[i, k] - expected) < 1e-9


def test_preprocess_output_layout(tmp_path):
    raw = raw_frame(rows=5, channels=400)
    path = tmp_path / "raw.csv.gz"
    raw.to_csv(path)
    out = preprocess(path)
    assert list(out.index) == list(raw.index)
    assert list(out.columns[:3]) == ["SiteID", "DepthFrom", "DepthTo"]
    assert list(out.columns[-2:]) == ["CuPPM", "AuPPM"]
    assert out.shape[1] == 3 + (400 - 1) // 7 + 1 + 2
    assert out.index.name is None  # so that input_fn tells the header line from a row
    pd.testing.assert_frame_equal(out[["CuPPM", "AuPPM"]],
                                  raw[["CuPPM", "AuPPM"]].rename_axis(index=None))


def test_undefined_normalisation_names_the_row():
    raw = raw_frame(rows=4, channels=400)
    raw.iloc[2, 3:-2] = 0.0
    with pytest.raises(ValueError, match="row 'S0002'"):
        preprocess(raw)


def test_too_few_channels_is_an_error():
    raw = raw_frame(rows=4, channels=300)
    with pytest.raises(ValueError, match="300 spectral channels are too few"):
        preprocess(raw)


def test_column_rule():
    columns = ["SiteID", "DepthTo", "3799.0", "wn_3797", "12", "CuPPM", "ClayPCT", "pH"]
    meta, spectra, targets = split_columns(columns)
    assert meta == ["SiteID", "DepthTo"]
    assert spectra == ["3799.0", "wn_3797", "12"]
    assert targets == ["CuPPM", "ClayPCT", "pH"]
    assert split_columns(["a", "b", "T"], targets=["T"]) == ([], ["a", "b"], ["T"])
    with pytest.raises(ValueError, match="no spectral columns"):
        split_columns(["SiteID", "Comment", "CuPPM"])


def test_oxide_assays_are_targets_not_channels():
    columns = ["3799.0", "X3785.5", "12", "SiO2", "Al2O3", "TiO2", "Cu65", "X12"]
    _, spectra, targets = split_columns(columns)
    assert spectra == ["3799.0", "X3785.5", "12"]
    assert targets == ["SiO2", "Al2O3", "TiO2", "Cu65", "X12"]
    _, spectra, targets = split_columns(columns, targets=["SiO2"])
    assert targets == ["SiO2"] and "X12" in spectra


def test_targets_option_overrides_the_rule(tmp_path):
    from conftest import ROOT, run
    raw = raw_frame(rows=30, channels=400, targets=("CuPPM",))
    raw["X12"] = raw["CuPPM"] * 2  # a target the rule would not take for a channel here
    (tmp_path / "data").mkdir()
    raw.to_csv(tmp_path / "data" / "public.csv.gz")
    done = run(ROOT / "train.py", "--data_dir", tmp_path / "data", "--model_dir",
               tmp_path / "model", "--targets", "CuPPM,X12", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "X12" in done.stderr and "CuPPM" in done.stderr
    out = tmp_path / "features.csv"
    done = run(ROOT / "preprocess.py", "--input", tmp_path / "data" / "public.csv.gz",
               "--output", out, "--targets", "CuPPM,X12", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(out, index_col=0).columns[-2:]) == ["CuPPM", "X12"]


def test_sample_ids_keep_their_text(tmp_path):
    from preprocess import write_features
    raw = raw_frame(rows=3, channels=400)
    raw.index = ["007", "1e3", "0042"]
    raw.to_csv(tmp_path / "raw.csv")
    write_features(tmp_path / "raw.csv", tmp_path / "features.csv", chunksize=2)
    lines = (tmp_path / "features.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["007", "1e3", "0042"]
