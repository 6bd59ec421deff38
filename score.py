"""The scoring step: the weighted R² of the predictions against the actual assays.

    score = sum over targets t of w_t * R²_t

with the challenge's weights (CuPPM 0.35, AuPPM 0.04, 0.025 for ten major elements, 0.01 for
each other; they sum to 1.01, as the challenge used them) when every target is a challenge
target, and equal weights summing to 1 otherwise. The predictions file has no header and no
index: column j is target j of the actual file, row i its row i.

R² is undefined for a target that is constant in the scored rows (its variance is 0). Such a
target scores R² = 1 when every prediction equals the constant and 0 otherwise, as
scikit-learn's `r2_score` counts it by default (force_finite=True): the score stays finite and
such a target adds nothing unless predicted exactly. The log names each such target.

    python score.py                    # data/public + data/predictions -> data/scores/public.txt
    python score.py --per-target       # also print each target's R² and weight
"""
import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from preprocess import (
    TARGETS, add_targets_option, atomic_output, numbers, read_raw, sm_path, split_columns)

log = logging.getLogger("score")

ACTUAL = sm_path("/opt/ml/processing/input/public/public.csv.gz")
PREDICTED = sm_path("/opt/ml/processing/input/predictions/public.csv.out")
OUTPUT = sm_path("/opt/ml/processing/output/scores/public.txt")

CHALLENGE_WEIGHTS = {
    **dict.fromkeys(TARGETS, 0.01),
    **dict.fromkeys("AgPPM FePCT NiPPM PbPPM ZnPPM AlPPM CaPPM KPPM MgPPM NaPPM".split(), 0.025),
    "AuPPM": 0.04,
    "CuPPM": 0.35,
}


def weights(targets):
    """The challenge's weights if every target is a challenge target, else equal weights."""
    if all(t in CHALLENGE_WEIGHTS for t in targets):
        return np.array([CHALLENGE_WEIGHTS[t] for t in targets])
    return np.full(len(targets), 1 / len(targets))


def most_weighted(targets):
    """The target with the largest weight; on a tie (equal weights) the first in file order."""
    targets = list(targets)
    return targets[int(np.argmax(weights(targets)))]


def score_table(actual, predicted):
    """Per-target R² and weight of `predicted` (array) against `actual` (frame of targets)."""
    predicted = np.asarray(predicted, dtype=float)
    if predicted.shape != actual.shape:
        raise ValueError(
            f"the predictions have shape {predicted.shape} but the actual file has "
            f"{actual.shape[0]} rows and {actual.shape[1]} targets: they must match row for row "
            "and column for column"
        )
    y = actual.to_numpy(dtype=float)
    for target in actual.columns[(y == y[:1]).all(axis=0)]:
        log.warning("%s is constant in the scored rows, where R² is undefined: it counts as 1 "
                    "if predicted exactly and 0 otherwise", target)
    r2 = r2_score(y, predicted, multioutput="raw_values", force_finite=True)
    return pd.DataFrame({"r2": r2, "weight": weights(list(actual.columns))},
                        index=actual.columns)


def score(actual, predicted):
    """The weighted R² of `predicted` against `actual` (frame of targets)."""
    table = score_table(actual, predicted)
    return float((table.r2 * table.weight).sum())


def read_actual(actual_file, targets=None):
    """The targets of the actual file (by the column rule, or the list), every one a number."""
    data = read_raw(actual_file)
    _, _, targets = split_columns(data.columns, targets)
    if not targets:
        raise ValueError(
            f"{actual_file} has no target columns to score against, as a private file has: "
            "score against a file that has the assays"
        )
    try:
        numbers(data, targets, rule="scoring needs a number for every target of every row")
    except ValueError as error:
        raise ValueError(f"{actual_file}: {error}") from None
    return data[targets]


def read_predicted(predicted_file):
    """The predictions file (no header, no index, numbers only) as an array."""
    try:
        cells = pd.read_csv(predicted_file, header=None, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{predicted_file} is empty: it needs one line per scored row") from None
    values = cells.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if len(values) > 1 and bad[0].any() and not bad[1:].any():
        raise ValueError(
            f"{predicted_file} starts with a header line ({','.join(cells.iloc[0])[:40]}): "
            "remove it, since a predictions file has no header and no index"
        )
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{predicted_file}, line {i + 1}, column {j + 1}: {cells.iat[i, j]!r} is not a "
            "finite number: predict the file again"
        )
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actual", type=Path, default=ACTUAL,
                        help="raw CSV with the assays (default %(default)s)")
    parser.add_argument("--predicted", type=Path, default=PREDICTED,
                        help="predictions, no header, no index (default %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT,
                        help="file the score is written to (default %(default)s)")
    add_targets_option(parser)
    parser.add_argument("--per-target", action="store_true", help="print each target's R²")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        actual = read_actual(args.actual, args.targets)
        predicted = read_predicted(args.predicted)
        try:
            table = score_table(actual, predicted)
        except ValueError as error:
            raise ValueError(f"{args.predicted} does not fit {args.actual}: {error}") from None
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    total = float((table.r2 * table.weight).sum())
    if args.per_target:
        print(table.assign(contribution=table.r2 * table.weight).to_string(float_format="%.4f"))
    with atomic_output(args.output) as tmp:
        tmp.write_text(f"{total}\n")
    print(f"score: {total:.4f}")
    return total


if __name__ == "__main__":
    main()
