"""The Training step, and the hooks the SageMaker scikit-learn container serves the model with.

Reads public.csv.gz from the training channel, computes the features with `preprocess`, fits
`mdl.ClippedRidgeCV` (metadata and features -> every target) and saves it with joblib.

    python train.py                                   # data/public -> model/model.joblib
    python train.py --data_dir my/data --model_dir my/model

Serving (Batch Transform): `model_fn(model_dir)` loads the model, `input_fn(body,
content_type)` turns a text/csv body of the feature file into what the model predicts on.
"""
import argparse
import csv
import io
import logging
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from mdl import ClippedRidgeCV
from preprocess import TARGETS, preprocess, sm_path, split_columns

log = logging.getLogger("train")

DATA_FILE = "public.csv.gz"
MODEL_FILE = "model.joblib"
DATA_DIR = sm_path("/opt/ml/input/data/training", env="SM_CHANNEL_TRAINING")
MODEL_DIR = sm_path("/opt/ml/model", env="SM_MODEL_DIR")


def train(args):
    """Fit the model on `args.data_dir`/public.csv.gz and save it into `args.model_dir`."""
    data_file = Path(args.data_dir) / DATA_FILE
    log.info("reading %s", data_file)
    data = preprocess(data_file)
    _, _, targets = split_columns(data.columns)
    if not targets:
        raise ValueError(
            f"{data_file} has no target columns: training needs assays (columns such as "
            f"{TARGETS[0]} or ClayPCT, named without a trailing number)"
        )
    X, y = data.drop(columns=targets), data[targets]
    log.info("fitting %d rows x %d features -> %d targets", *X.shape, len(targets))
    model = ClippedRidgeCV().fit(X, y)
    for target, alpha, score in zip(targets, np.atleast_1d(model.alpha_),
                                    np.atleast_1d(model.best_score_)):
        log.info("  %-8s alpha %9.3g  leave-one-out R² %6.3f", target, alpha, score)
    save_model(model, args.model_dir)
    return model


def save_model(model, model_dir):
    """Write the model atomically: a failed or killed save leaves the previous one intact."""
    path = Path(model_dir) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        joblib.dump(model, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("saved %s", path)


def model_fn(model_dir):
    """Load the model (SageMaker calls this once per server worker)."""
    return joblib.load(Path(model_dir) / MODEL_FILE)


def input_fn(input_data, content_type):
    """A text/csv body of the feature file -> a frame (with its header line) or a matrix.

    The body may be text or bytes, with or without the header line, and always with the index
    column first. A body without header is returned as a matrix, which the model takes by
    position. Batch Transform with SplitType Line sends the header in the first request only.
    """
    media_type = content_type.split(";")[0].strip().lower() if content_type else ""
    if media_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type!r}: send text/csv")
    if isinstance(input_data, (bytes, bytearray)):
        input_data = input_data.decode("utf-8")
    if not input_data.strip():
        raise ValueError("the request body is empty: send at least one CSV row")
    first = next(csv.reader(io.StringIO(input_data[: input_data.find("\n") + 1 or None])))
    header = _is_header(first)
    # pandas parses bytes in C; from a StringIO it re-encodes the text in Python chunks (~1.5x)
    frame = pd.read_csv(io.BytesIO(input_data.encode("utf-8")), index_col=0,
                        header=0 if header else None)
    return frame if header else frame.to_numpy(dtype=float)


def _is_header(fields):
    """A header line has an empty index name (pandas writes one) or a non-numeric column."""
    if not fields or not fields[0].strip():
        return True
    try:
        [float(f) for f in fields[1:]]
    except ValueError:
        return True
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--data_dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    train(args)


if __name__ == "__main__":
    main()
