"""input_fn turns what Batch Transform sends into what the model predicts on."""
import numpy as np
import pandas as pd
import pytest

from conftest import raw_frame
from preprocess import preprocess
from train import input_fn


@pytest.fixture
def features():
    return preprocess(raw_frame(rows=6, channels=400))


def test_with_header_gives_the_frame(features):
    body = features.to_csv()
    got = input_fn(body, "text/csv")
    pd.testing.assert_frame_equal(got, features, check_exact=True)
    pd.testing.assert_frame_equal(input_fn(body.encode(), "text/csv; charset=utf-8"), got)


def test_without_header_gives_the_matrix(features):
    body = features.to_csv(header=False)
    np.testing.assert_array_equal(input_fn(body, "text/csv"), features.to_numpy())


def test_one_row_stays_one_row(features):
    for body in [features.iloc[:1].to_csv(), features.iloc[:1].to_csv(header=False)]:
        assert np.shape(input_fn(body, "text/csv")) == (1, features.shape[1])


def test_other_content_types_and_empty_bodies_are_errors(features):
    with pytest.raises(ValueError, match="unsupported content type 'application/json'"):
        input_fn(features.to_json(), "application/json")
    with pytest.raises(ValueError, match="empty"):
        input_fn("", "text/csv")


def test_header_of_numbers_only_is_still_a_header(tmp_path):
    """A file with no metadata and no targets: every name in its header is a wavenumber."""
    from preprocess import write_features
    raw = raw_frame(rows=3, channels=400, targets=()).drop(columns=["SiteID", "DepthFrom",
                                                                     "DepthTo"])
    raw.to_csv(tmp_path / "raw.csv")
    write_features(tmp_path / "raw.csv", tmp_path / "features.csv")
    got = input_fn((tmp_path / "features.csv").read_text(), "text/csv")
    assert isinstance(got, pd.DataFrame) and got.shape == (3, 58)
    assert got.columns[0] == "3800.0"
