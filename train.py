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
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.exceptions import InconsistentVersionWarning

from mdl import ClippedRidgeCV
from preprocess import (
    TARGETS, add_targets_option, atomic_output, numbers, preprocess, sm_path, split_columns)

log = logging.getLogger("train")

DATA_FILE = "public.csv.gz"
MODEL_FILE = "model.joblib"
DATA_DIR = sm_path("/opt/ml/input/data/training", env="SM_CHANNEL_TRAINING")
MODEL_DIR = sm_path("/opt/ml/model", env="SM_MODEL_DIR")


def train(args):
    """Fit the model on `args.data_dir`/public.csv.gz and save it into `args.model_dir`."""
    data_file = Path(args.data_dir) / DATA_FILE
    log.info("reading %s", data_file)
    data = preprocess(data_file, targets=getattr(args, "targets", None))
    _, _, targets = split_columns(data.columns, getattr(args, "targets", None))
    if not targets:
        raise ValueError(
            f"{data_file} has no target columns, as a private file has: training needs assays "
            f"(columns such as {TARGETS[0]}, ClayPCT or SiO2, not named by a wavenumber)"
        )
    check_targets(data, targets, data_file)
    X, y = data.drop(columns=targets), data[targets]
    log.info("fitting %d rows x %d features -> %d targets", *X.shape, len(targets))
    model = ClippedRidgeCV().fit(X, y)
    for target, alpha, score in zip(targets, np.atleast_1d(model.alpha_),
                                    np.atleast_1d(model.best_score_)):
        log.info("  %-8s alpha %9.3g  leave-one-out R² %6.3f", target, alpha, score)
    save_model(model, args.model_dir)
    return model


def check_targets(data, targets, data_file):
    """Training needs a number for every target of every row.

    A target column that is empty in every row is what a private file with the assay columns
    left in looks like, and is an error. A challenge file that lacks some of the 49 assays is
    not: the model learns the targets the file has, and the log names the missing ones.
    """
    empty = [t for t in targets if data[t].isna().all()]
    if empty:
        raise ValueError(
            f"{data_file}: the target column(s) {empty} are empty in every row, as in a private "
            "file: train on a file that has these assays, or remove the columns"
        )
    missing = [t for t in TARGETS if t not in targets]
    if missing and set(targets) & set(TARGETS):
        log.warning("%s lacks %d of the %d challenge targets (%s): the model predicts the %d "
                    "it has", data_file, len(missing), len(TARGETS), " ".join(missing),
                    len(targets))
    try:
        numbers(data, targets, rule="training needs a number for every target of every row")
    except ValueError as error:
        raise ValueError(f"{data_file}: {error}") from None


def save_model(model, model_dir):
    """Write the model atomically: a failed or killed save leaves the previous one intact."""
    path = Path(model_dir) / MODEL_FILE
    with atomic_output(path) as tmp:
        joblib.dump(model, tmp)
    log.info("saved %s", path)


def model_fn(model_dir):
    """Load the model (SageMaker calls this once per server worker).

    Trust boundary: joblib runs code stored in the file while it loads it, like pickle. Load
    only model files you trained yourself or got from someone you trust.
    A model saved by another scikit-learn version than this one is refused: scikit-learn does
    not promise that it loads or predicts the same.
    """
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"there is no model file {path}: run train.py first, or point --model_dir at the "
            "folder that holds model.joblib"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            return joblib.load(path)
        except InconsistentVersionWarning as w:
            saved = w.original_sklearn_version
            raise ValueError(
                f"{path} was saved by scikit-learn {saved}, but this is scikit-learn "
                f"{w.current_sklearn_version}: retrain the model with train.py here"
                + (f", or load it where scikit-learn=={saved} is installed"
                   if saved != "unknown" else "")
            ) from None
        except Exception as error:
            raise ValueError(
                f"{path} is not a model file joblib can load ({type(error).__name__}: {error}): "
                "retrain the model with train.py"
            ) from error


def input_fn(input_data, content_type):
    """A text/csv body of the feature file -> a frame (with its header line) or a matrix.

    The body may be text or bytes, with or without the header line, and always with the index
    column first. A body without header is returned as a matrix, which the model takes by
    position. Batch Transform with SplitType Line sends the header in the first request only.
    """
    media_type = content_type.split(";")[0].strip().lower() if content_type else ""
    if media_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type!r}: send text/csv")
    # pandas parses bytes in C; from a StringIO it re-encodes the text in Python chunks (~1.5x),
    # so the body stays bytes and only its first line is decoded, to tell a header.
    body = input_data.encode("utf-8") if isinstance(input_data, str) else bytes(input_data)
    if not body.strip():
        raise ValueError("the request body is empty: send at least one CSV row")
    first = next(csv.reader([body[: body.find(b"\n") + 1 or None].decode("utf-8")]))
    header = _is_header(first)
    frame = pd.read_csv(io.BytesIO(body), index_col=0, header=0 if header else None)
    return frame if header else frame.to_numpy(dtype=float)


def _is_header(fields):
    """A header line has an empty index name or a non-numeric column.

    preprocess writes the feature file's header with an empty index name and refuses rows
    without a sample id, so a line of its file is a header exactly when its first field is empty.
    """
    if not fields or not fields[0].strip():
        return True
    try:
        [float(f) for f in fields[1:]]
    except ValueError:
        return True
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_dir", type=Path, default=MODEL_DIR,
                        help="folder to save model.joblib in (SM_MODEL_DIR; default %(default)s)")
    parser.add_argument("--data_dir", type=Path, default=DATA_DIR,
                        help=f"folder holding {DATA_FILE} (SM_CHANNEL_TRAINING; default "
                        "%(default)s)")
    add_targets_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        train(args)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
