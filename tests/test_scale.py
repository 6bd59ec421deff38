"""Streaming changes nothing: chunked and whole outputs are byte-identical; the synthetic set."""
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, raw_frame, run
from mdl import ClippedRidgeCV
from preprocess import TARGETS, csv_text, preprocess, split_columns, write_features

PREPARE = ROOT / "data" / "synthetic" / "prepare.py"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "raw.csv.gz"  # the gzip path, as users write it
    done = run(PREPARE, "--rows", 60, "--output", out, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("chunksize", [7, 60, 1000])
def test_chunked_output_is_byte_identical_to_whole(synthetic, tmp_path, chunksize):
    whole = preprocess(synthetic).to_csv()  # the whole file at once, written by pandas
    out = tmp_path / "features.csv"
    assert write_features(synthetic, out, chunksize=chunksize) == 60
    assert out.read_text() == whole


def test_one_row_chunks_with_a_named_string_index(tmp_path):
    raw = raw_frame(rows=9, channels=320)
    raw.iloc[3, -1] = np.nan  # a missing assay stays missing
    path, out = tmp_path / "raw.csv.gz", tmp_path / "features.csv"
    raw.to_csv(path)
    assert write_features(path, out, chunksize=1) == 9
    assert out.read_text() == preprocess(path).to_csv()


def test_feature_file_reads_back_to_the_same_floats(synthetic, tmp_path):
    out = tmp_path / "features.csv"
    write_features(synthetic, out, chunksize=16)
    expected = preprocess(synthetic)
    ids_as_text = {"Unnamed: 0": str}  # preprocess keeps sample ids as written
    pd.testing.assert_frame_equal(pd.read_csv(out, index_col=0, dtype=ids_as_text),
                                  expected, check_exact=True)


def test_csv_text_writes_what_pandas_writes():
    frame = raw_frame(rows=6, channels=310).iloc[:, [0, 1, 2, 3, 200, -1]] / 7
    frame["SiteID"] = np.arange(6)
    frame.iloc[2, 1] = np.nan
    frame.iloc[3, 4] = 1e-300
    frame.iloc[4, 4] = -2.5e17
    assert csv_text(frame) == frame.to_csv()
    assert csv_text(frame, header=False) == frame.to_csv(header=False)
    assert csv_text(frame.iloc[:0]) == frame.iloc[:0].to_csv()
    quoted = frame.set_axis(["a,b", 'say "x"', "c", "d", "e", "f"])
    assert csv_text(quoted) == quoted.to_csv()


def test_synthetic_set_has_the_challenge_layout_and_is_deterministic(synthetic, tmp_path):
    raw = pd.read_csv(synthetic, index_col=0)
    meta, spectra, targets = split_columns(raw.columns)
    assert meta == ["SiteID", "DepthFrom", "DepthTo"]
    assert len(spectra) == 1700 and float(spectra[0]) > float(spectra[-1])
    assert targets == TARGETS
    assert set(np.unique(raw[targets].to_numpy()[raw[targets].to_numpy() < 0])) <= {-1, -50, -100}
    assert (raw[targets] < 0).any().sum() > 10  # below-detection codes in many targets
    again, other = tmp_path / "again.csv.gz", tmp_path / "other.csv.gz"
    run(PREPARE, "--rows", 60, "--output", again, cwd=ROOT)
    run(PREPARE, "--rows", 60, "--output", other, "--seed", 1, cwd=ROOT)
    assert again.read_bytes() == synthetic.read_bytes()
    assert other.read_bytes() != synthetic.read_bytes()


def test_synthetic_targets_can_be_learned_from_the_spectra(tmp_path):
    path = tmp_path / "raw.csv"
    assert run(PREPARE, "--rows", 400, "--output", path, cwd=ROOT).returncode == 0
    data = preprocess(path)
    X = data.drop(columns=TARGETS)
    model = ClippedRidgeCV().fit(X, data[TARGETS])
    assert np.median(model.best_score_) > 0.2  # leave-one-out R²
