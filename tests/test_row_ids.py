"""Rows keep their order and count through every step: follow sample ids from the raw file
through the features to the predictions."""
import numpy as np
import pandas as pd

from conftest import raw_frame
from mdl import ClippedRidgeCV
from predict import batch_transform
from preprocess import preprocess, split_columns, write_features
from train import save_model


def test_sample_ids_through_features_and_predictions(tmp_path):
    rng = np.random.default_rng(7)
    raw = raw_frame(rows=23, channels=400, seed=3)
    raw.index = [f"core-{n}" for n in rng.permutation(1000)[:23]]  # no order to fall back on
    raw.to_csv(tmp_path / "public.csv.gz")
    data = preprocess(raw)
    _, _, targets = split_columns(data.columns)
    model = ClippedRidgeCV().fit(data.drop(columns=targets), data[targets])
    save_model(model, tmp_path / "model")

    # features: streamed in chunks of 5 rows, the ids come out in the file's order
    rows = write_features(tmp_path / "public.csv.gz", tmp_path / "public.csv", chunksize=5)
    features = pd.read_csv(tmp_path / "public.csv", index_col=0)
    assert rows == 23 and list(features.index) == list(raw.index)

    # predictions: line i of public.csv.out is the prediction for the i-th id of the raw file
    out = batch_transform(tmp_path / "public.csv", tmp_path / "model", tmp_path / "out")
    lines = out.read_text().splitlines()
    assert len(lines) == len(raw)
    for line, sample in zip(lines, raw.index):
        alone = model.predict(preprocess(raw.loc[[sample]]))[0]
        np.testing.assert_allclose([float(v) for v in line.split(",")], alone, rtol=1e-12)
