"""Model validation: repeated K-fold cross-validation of the whole pipeline (preprocessing +
model), the models a chemometrician would try instead on the same folds, and scans over the
preprocessing parameters and alpha grids. Prints the tables, writes them with the out-of-fold
predictions and the figures to reports/val/.

    python val.py                         # everything on data/public/public.csv.gz (minutes)
    python val.py --peers                 # only the comparison with the other models
    python val.py --scan --repeats 2      # only the parameter scans, on 2 x 4 folds
    python val.py --input my.csv.gz --targets ClayPCT pH --output reports/mine
    python val.py --peers --group-by SiteID --folds 3     # no site in two folds

Every model sees the raw columns (metadata and spectra) of the training rows only. The
features are computed inside the pipeline by `Features`, which calls `preprocess.preprocess`
(the Processing step's own code). The recipe is per row (each spectrum is normalised by its
own maximum and summed in fixed windows), so the transformer learns nothing in `fit` and a
test row cannot change what a training row becomes; the models' own choices (alphas, PLS
components) are made inside each training fold.
"""
import argparse
import logging
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.cross_decomposition import PLSRegression
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold, KFold, RepeatedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from mdl import ALPHAS, ClippedRidgeCV
from preprocess import (
    CHANNEL_NAME, INPUT, START, STOP, WINDOW, add_targets_option, preprocess, read_raw,
    split_columns)
from score import most_weighted, score_table

log = logging.getLogger("val")

# ---- defaults --------------------------------------------------------------------------------
OUTPUT = Path(__file__).resolve().parent / "reports" / "val"
REPEATS, FOLDS, SEED = 5, 4, 0
PLS_MAX_COMPONENTS, PLS_INNER_FOLDS = 25, 5
TREES = 300
JOBS = -1  # processes fitting folds in parallel (-1: one per core)
WINDOWS = (1, 3, 5, 7, 10)
STOPS = (-1, -100, -200, -300, -450, -600, -900)
STARTS = (0, 50, 100, 200, 400)
ALPHA_GRIDS = {  # name -> (alphas, one alpha per target)
    "logspace(-5, 5, 50) per target (reference)": (ALPHAS, True),
    "logspace(-3, 3, 25) per target": (tuple(np.logspace(-3, 3, 25)), True),
    "logspace(-10, 10, 100) per target": (tuple(np.logspace(-10, 10, 100)), True),
    "logspace(-5, 5, 11) per target": (tuple(np.logspace(-5, 5, 11)), True),
    "logspace(-5, 5, 50) one for all targets": (ALPHAS, False),
}


class Features(TransformerMixin, BaseEstimator):
    """`preprocess.preprocess` as a scikit-learn transformer: raw columns -> model features.

    It takes a frame of the raw metadata and spectral columns (no targets) and returns the
    metadata and the window features, exactly as the Processing step writes them. It is
    stateless: `fit` learns nothing, since the recipe works on each row alone.
    """

    def __init__(self, start=START, stop=STOP, window=WINDOW):
        self.start = start
        self.stop = stop
        self.window = window

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return preprocess(X, self.start, self.stop, self.window, targets=[])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class PLSCV(RegressorMixin, BaseEstimator):
    """PLS1 per target, each with the number of components (1..`max_components`) that gives
    the least mean squared error over an inner K-fold cross-validation of the rows it is fitted
    on, as GridSearchCV(PLSRegression, scoring="neg_mean_squared_error") would choose.

    The components of PLS1 nest (a fit with k components is the first k of a fit with more),
    so each inner fold needs one fit, not one per candidate: 49 targets stay affordable.
    """

    def __init__(self, max_components=PLS_MAX_COMPONENTS, cv=PLS_INNER_FOLDS, random_state=SEED):
        self.max_components = max_components
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        Y = np.asarray(y, dtype=float)
        self._1d = Y.ndim == 1
        inner = KFold(self.cv, shuffle=True, random_state=self.random_state)
        largest = min(self.max_components, X.shape[1], len(X) - len(X) // self.cv - 1)
        self.n_components_, self.models_ = [], []
        for target in Y.reshape(len(X), -1).T:
            mse = np.zeros(largest)
            for train, test in inner.split(X):
                predicted = nested_pls_predictions(X[train], target[train], X[test], largest)
                mse += ((predicted - target[test, None]) ** 2).mean(axis=0) / self.cv
            k = int(np.argmin(np.where(np.isfinite(mse), mse, np.inf))) + 1
            self.n_components_.append(k)
            self.models_.append(PLSRegression(k).fit(X, target))
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        predicted = np.column_stack([m.predict(X).reshape(len(X)) for m in self.models_])
        return predicted[:, 0] if self._1d else predicted


def nested_pls_predictions(X, y, X_new, largest):
    """Predictions for `X_new` of PLS1 fitted on (X, y) with 1..`largest` components (columns).

    The training scores are orthogonal, so k components predict the mean plus the first k
    scores times their regression coefficients.
    """
    pls = PLSRegression(largest).fit(X, y)
    scores, new = pls.transform(X), pls.transform(X_new)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = scores.T @ (y - y.mean()) / (scores**2).sum(axis=0)
    return y.mean() + np.cumsum(new * q, axis=1)


def reference(start=START, stop=STOP, window=WINDOW, alphas=ALPHAS, alpha_per_target=True):
    """The bundle's model: the features, then `ClippedRidgeCV`."""
    return make_pipeline(
        Features(start, stop, window),
        ClippedRidgeCV(alphas=alphas, alpha_per_target=alpha_per_target),
    )


def peers(start=START, stop=STOP, window=WINDOW, pls_max=PLS_MAX_COMPONENTS, trees=TREES,
          seed=SEED):
    """The models compared on the same folds, by name; the reference first."""
    ridge = RidgeCV(alphas=ALPHAS, scoring="r2", alpha_per_target=True)  # ClippedRidgeCV's fit
    pls = PLSCV(pls_max, PLS_INNER_FOLDS, seed)
    forest = TransformedTargetRegressor(  # standardised targets weigh alike in the splits
        RandomForestRegressor(trees, max_features=0.3, random_state=seed),
        transformer=StandardScaler(),
    )
    features = Features(start, stop, window)
    return {
        "ClippedRidgeCV on features (reference)": reference(start, stop, window),
        "RidgeCV on features (no clipping)": make_pipeline(clone(features), clone(ridge)),
        "RidgeCV on raw spectra": clone(ridge),
        f"PLS on features (1-{pls_max} components, inner {PLS_INNER_FOLDS}-fold CV)":
            make_pipeline(clone(features), pls),
        f"random forest on features ({trees} trees)": make_pipeline(clone(features), forest),
    }


def folds(n_rows, repeats=REPEATS, n_folds=FOLDS, seed=SEED, groups=None):
    """The (train, test) index pairs every model is validated on, repeat by repeat.

    With `groups` (a site per row, say) no group is split between training and test.
    """
    if groups is None:
        return list(RepeatedKFold(n_splits=n_folds, n_repeats=repeats, random_state=seed)
                    .split(np.arange(n_rows)))
    return [split for r in range(repeats) for split in
            GroupKFold(n_folds, shuffle=True, random_state=seed + r)
            .split(np.arange(n_rows), groups=groups)]


def cross_validate(model, X, y, splits, progress=None, n_jobs=1):
    """Fit a clone of `model` on each training fold and predict its test fold (in parallel
    over `n_jobs` processes).

    Returns (scores, r2, oof, seconds): the weighted score of each fold, each fold's per-target
    R² (folds x targets), the out-of-fold predictions (repeats x rows x targets; each repeat's
    folds cover every row once) and the mean fit+predict time per fold.
    """
    n_folds = _folds_per_repeat(splits, len(X))
    oof = np.full((len(splits) // n_folds, *y.shape), np.nan)
    scores, r2, seconds = [], [], []
    fits = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_fit_predict)(model, X, y, train, test) for train, test in splits)
    for i, ((train, test), (predicted, elapsed)) in enumerate(zip(splits, fits)):
        seconds.append(elapsed)
        oof[i // n_folds, test] = predicted
        table = score_table(y.iloc[test], predicted)
        scores.append(float((table.r2 * table.weight).sum()))
        r2.append(table.r2.to_numpy())
        if progress is not None:
            progress.update()
    return np.array(scores), np.array(r2), oof, float(np.mean(seconds))


def _fit_predict(model, X, y, train, test):
    """A clone of `model` fitted on the training rows, its predictions for the test rows."""
    tic = time.perf_counter()
    fitted = clone(model).fit(X.iloc[train], y.iloc[train])
    predicted = np.asarray(fitted.predict(X.iloc[test]), dtype=float).reshape(len(test), -1)
    return predicted, time.perf_counter() - tic


def _folds_per_repeat(splits, n_rows):
    """How many consecutive splits cover the rows once (the K of the repeated K-fold)."""
    covered = 0
    for k, (_, test) in enumerate(splits, start=1):
        covered += len(test)
        if covered >= n_rows:
            return k
    raise ValueError(f"the {len(splits)} splits do not cover the {n_rows} rows")


def summary(name, scores, reference_scores, seconds=None):
    """One table row: mean ± sd over the folds, and the paired difference to the reference."""
    diff = scores - reference_scores
    row = {"model": name, "mean": scores.mean(), "sd": scores.std(ddof=1) if len(scores) > 1
           else 0.0, "diff": diff.mean(), "diff_sd": diff.std(ddof=1) if len(diff) > 1 else 0.0,
           "better_folds": int((diff > 0).sum())}
    if seconds is not None:
        row["seconds"] = seconds
    return row


def markdown(table, columns):
    """A frame as a Markdown table (for the terminal and the README), numbers to 3 decimals."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


def _pm(table, mean, sd):
    return [f"{m:.3f} ± {s:.3f}" for m, s in zip(table[mean], table[sd])]


# ---- the three jobs -----------------------------------------------------------------------------
def run_peers(models, X, y, splits, output, n_jobs=1):
    """Cross-validate each model on the same folds; print and write the table and the OOF."""
    results = {}
    with tqdm(total=len(models) * len(splits), desc="peers", unit="fit") as bar:
        for name, model in models.items():
            bar.set_postfix_str(name[:30])
            results[name] = cross_validate(model, X, y, splits, bar, n_jobs)
    first = next(iter(results.values()))[0]
    rows = [summary(name, r[0], first, r[3]) for name, r in results.items()]
    table = pd.DataFrame(rows)
    targets = list(y.columns)
    shown = targets if len(targets) <= 6 else [most_weighted(targets)]
    for name, row in zip(results, table.index):
        for j, t in enumerate(targets):
            if t in shown:
                table.loc[row, f"R² {t}"] = results[name][1][:, j].mean()
    table["weighted R² (mean ± sd)"] = _pm(table, "mean", "sd")
    table["vs reference (paired)"] = [f"{m:+.3f} ± {s:.3f}" for m, s in
                                      zip(table["diff"], table["diff_sd"])]
    table["folds better"] = [f"{b}/{len(splits)}" for b in table["better_folds"]]
    table["s/fold"] = table["seconds"]
    columns = ["model", "weighted R² (mean ± sd)", "vs reference (paired)", "folds better",
               *[f"R² {t}" for t in shown], "s/fold"]
    print(f"\nPeers: {len(splits)} folds ({_describe(splits, len(X))}), weighted R² per fold")
    print(markdown(table, columns))
    output.mkdir(parents=True, exist_ok=True)
    table.drop(columns=["weighted R² (mean ± sd)", "vs reference (paired)", "folds better"]
               ).to_csv(output / "peers.csv", index=False)
    write_oof({name: r[2] for name, r in results.items()}, y, output / "oof_predictions.csv.gz")
    return results


def write_oof(oof, y, path):
    """Out-of-fold predictions, one row per (model, repeat, sample), a column per target."""
    frames = []
    for name, predictions in oof.items():
        for repeat, values in enumerate(predictions):
            frame = pd.DataFrame(values, index=y.index, columns=y.columns)
            frame.insert(0, "repeat", repeat)
            frame.insert(0, "model", name)
            frames.append(frame)
    pd.concat(frames).to_csv(path)
    log.info("wrote out-of-fold predictions to %s", path)


def scan_settings(n_channels, start, stop, window, windows, starts, stops):
    """The settings scanned: window x stop at `start`, then starts at (`stop`, `window`)."""
    grid = [("window x stop", dict(start=start, stop=s, window=w)) for s in stops
            for w in windows]
    grid += [("start", dict(start=s, stop=stop, window=window)) for s in starts]
    usable, seen = [], set()
    for kind, params in grid:
        key = tuple(params.values())
        if not range(n_channels)[params["start"] : params["stop"]]:
            log.warning("skipping %s: %d channels are too few for the range [%d:%d]",
                        params, n_channels, params["start"], params["stop"])
        elif key not in seen or kind == "start":
            usable.append((kind, params))
            seen.add(key)
    return usable


def run_scan(X, y, splits, output, n_channels, start, stop, window, windows, starts, stops,
             alpha_grids, n_jobs=1):
    """Cross-validate the reference model over preprocessing settings and alpha grids."""
    settings = scan_settings(n_channels, start, stop, window, windows, starts, stops)
    jobs = [(kind, params, reference(**params)) for kind, params in settings]
    jobs += [("alphas", {"alphas": name}, reference(start, stop, window, alphas, per_target))
             for name, (alphas, per_target) in alpha_grids.items()]
    scores, edges = [], []
    with tqdm(total=len(jobs) * len(splits), desc="scan", unit="fit") as bar:
        for kind, params, model in jobs:
            bar.set_postfix_str(str(params)[:30])
            scores.append(cross_validate(model, X, y, splits, bar, n_jobs)[0])
            if kind == "alphas":
                edges.append(_edge_share(model, X, y))
    base = scores[len(settings)]  # the first alpha grid is the reference's, at its settings
    rows = [{"scan": kind, **params, **summary("", s, base)}
            for (kind, params, _), s in zip(jobs, scores)]
    table = pd.DataFrame(rows).drop(columns="model")
    table[["start", "stop", "window"]] = table[["start", "stop", "window"]].astype("Int64")
    table.loc[table.scan == "alphas", "alphas at grid edge"] = edges
    table["weighted R² (mean ± sd)"] = _pm(table, "mean", "sd")
    table["vs reference (paired)"] = [f"{m:+.3f} ± {s:.3f}" for m, s in
                                      zip(table["diff"], table["diff_sd"])]
    print(f"\nScan of the reference model, {len(splits)} folds, reference = "
          f"start {start}, stop {stop}, window {window}, {next(iter(alpha_grids), '')}")
    for kind, part in table.groupby("scan", sort=False):
        print(f"\n{kind}:")
        if kind == "window x stop":  # a grid: rows stop, columns window
            for value, what in [("mean", "weighted R², mean over folds"),
                                ("diff", "paired difference to the reference")]:
                grid = part.pivot(index="stop", columns="window", values=value)
                grid.columns = [f"window {w:g}" for w in grid.columns]
                print(f"{what}:")
                print(markdown(grid.reset_index(), ["stop", *grid.columns]))
            continue
        keys = {"start": ["start"], "alphas": ["alphas", "alphas at grid edge"]}[kind]
        print(markdown(part, [*keys, "weighted R² (mean ± sd)", "vs reference (paired)"]))
    output.mkdir(parents=True, exist_ok=True)
    table.drop(columns=["weighted R² (mean ± sd)", "vs reference (paired)"]).to_csv(
        output / "scan.csv", index=False)
    plot_scan(table, (start, stop, window), output / "scan_window_stop_start_alphas.png")
    return table


def _edge_share(model, X, y):
    """Share of the targets whose alpha, fitted on all rows, is the grid's smallest or largest."""
    ridge = clone(model).fit(X, y)[-1]
    chosen = np.atleast_1d(ridge.alpha_)
    return float(np.isin(chosen, [min(ridge.alphas), max(ridge.alphas)]).mean())


def _describe(splits, n_rows):
    k = _folds_per_repeat(splits, n_rows)
    return f"{len(splits) // k} repeats x {k} folds"


# ---- figures ---------------------------------------------------------------------------------
def plot_scan(table, chosen, path):
    start, stop, window = chosen
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    grid = table[table.scan == "window x stop"].pivot(index="stop", columns="window",
                                                      values="mean")
    ax = axes[0]
    if not grid.empty:
        image = ax.imshow(grid.to_numpy(), cmap="viridis", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [f"{w:g}" for w in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{s:g}" for s in grid.index])
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            bold = grid.index[i] == stop and grid.columns[j] == window
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8,
                    color="w" if v < np.nanmean(grid.to_numpy()) else "k",
                    fontweight="bold" if bold else "normal")
        fig.colorbar(image, ax=ax, label="weighted R² (mean over folds)")
    ax.set(xlabel="window (channels)", ylabel="normalisation stop",
           title=f"window x stop (start {start}); bold = reference")
    # the folds are shared, so the paired difference shows what the fold spread hides
    part = table[table.scan == "start"]
    axes[1].errorbar(part.start, part["diff"], part["diff_sd"], marker="o", capsize=3)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set(xlabel="normalisation start", ylabel="weighted R² − reference (paired, ± sd)",
                title=f"start (stop {stop}, window {window})")
    part = table[table.scan == "alphas"]
    axes[2].barh(range(len(part)), part["diff"], xerr=part["diff_sd"], capsize=3,
                 color="tab:gray")
    axes[2].axvline(0, color="k", lw=0.8)
    axes[2].set_yticks(range(len(part)), [a.replace(" per target", "\nper target")
                                          .replace(" one for", "\none for")
                                          for a in part.alphas], fontsize=8)
    axes[2].invert_yaxis()
    axes[2].set(xlabel="weighted R² − reference (paired, ± sd)", title="alpha grids")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    log.info("wrote %s", path)


def plot_per_target(r2, targets, weights_, name, path):
    """Bars of each target's R² (mean ± sd over folds), labelled with its weight."""
    fig, ax = plt.subplots(figsize=(7, 1.6 + 0.28 * len(targets)))
    ax.barh(range(len(targets)), r2.mean(axis=0), xerr=r2.std(axis=0), capsize=2,
            color="tab:blue")
    ax.set_yticks(range(len(targets)), [f"{t} (w {w:.3g})" for t, w in zip(targets, weights_)],
                  fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlim(max(np.nanmin(r2.mean(axis=0)) - 0.1, -1), 1)
    ax.set(xlabel="R² per fold (mean ± sd)", title=f"per-target R²\n{name}")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    log.info("wrote %s", path)


def plot_predicted_actual(actual, oof, sites, name, path):
    """Out-of-fold predictions (mean over repeats, bars = range) against the actual values."""
    predicted = oof.mean(axis=0)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.errorbar(actual, predicted, yerr=[predicted - oof.min(axis=0),
                                         oof.max(axis=0) - predicted],
                fmt="none", ecolor="0.75", lw=0.8)
    groups = np.unique(sites) if sites is not None else []
    if 1 < len(groups) <= 10:
        for k, site in enumerate(groups):
            mask = sites == site
            ax.scatter(actual[mask], predicted[mask], s=14, color=f"C{k}", label=f"site {site}")
    else:
        scatter = ax.scatter(actual, predicted, c=sites, s=14, cmap="viridis")
        if len(groups) > 1:
            fig.colorbar(scatter, ax=ax, label="SiteID")
    lo, hi = min(actual.min(), predicted.min()), max(actual.max(), predicted.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="1:1")
    r2 = 1 - ((actual - predicted) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
    ax.set(xlabel=f"actual {actual.name}", ylabel=f"predicted {actual.name} (out of fold)",
           title=f"{name}\nR² of the mean OOF prediction {r2:.3f}")
    ax.title.set_fontsize(9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    log.info("wrote %s", path)


# ---- the script --------------------------------------------------------------------------------
def load(path, targets=None, need_targets=True):
    """(inputs, targets, spectral column names) of a file in the data format.

    `targets` picks target columns. When the column rule finds assays the list leaves out
    (validating 4 of the 49, say), those are dropped, never taken for spectra.
    """
    data = read_raw(path)
    meta, spectra, targets = split_columns(data.columns, targets)
    numbered = [c for c in spectra if CHANNEL_NAME.search(c)]
    spectra = numbered or spectra  # all unnumbered: the user's spectra, named otherwise
    if need_targets and not targets:
        raise ValueError(f"{path} has no target columns: validation needs assays (or pass "
                         "--targets)")
    y = data[targets].astype(float)
    if y.isna().any().any():
        column = y.columns[y.isna().any()][0]
        raise ValueError(f"{path}: target {column} has missing values in row "
                         f"{y.index[y[column].isna()][0]!r}; fill or drop them first")
    return data[meta + spectra], y, spectra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=INPUT, help="raw CSV (may be gzipped)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder for tables, figures")
    add_targets_option(parser)
    parser.add_argument("--peers", action="store_true", help="run the peers (default: all)")
    parser.add_argument("--scan", action="store_true", help="run the scans (default: all)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--group-by", metavar="COLUMN",
                        help="keep each value of this column (SiteID, say) in one fold")
    parser.add_argument("--start", type=int, default=START, help="the chosen model's start")
    parser.add_argument("--stop", type=int, default=STOP, help="the chosen model's stop")
    parser.add_argument("--window", type=int, default=WINDOW, help="the chosen model's window")
    parser.add_argument("--windows", type=int, nargs="+", default=WINDOWS)
    parser.add_argument("--starts", type=int, nargs="+", default=STARTS)
    parser.add_argument("--stops", type=int, nargs="+", default=STOPS)
    parser.add_argument("--pls-max", type=int, default=PLS_MAX_COMPONENTS,
                        help="largest number of PLS components tried")
    parser.add_argument("--trees", type=int, default=TREES, help="random forest size")
    parser.add_argument("--jobs", type=int, default=JOBS, help="processes (-1: one per core)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    matplotlib.use("Agg")  # here, not at import: eda.py imports `load` and may run in VSCode
    everything = not (args.peers or args.scan)
    # The matrices are small: one BLAS thread per process is many times faster than several
    # fighting (joblib's worker processes limit theirs likewise).
    threadpool_limits(1, user_api="blas")

    X, y, spectra = load(args.input, args.targets)
    n_channels = len(spectra)
    if args.group_by and args.group_by not in X:
        raise ValueError(f"--group-by {args.group_by}: no such input column in {args.input}")
    groups = X[args.group_by].to_numpy() if args.group_by else None
    splits = folds(len(X), args.repeats, args.folds, args.seed, groups)
    chosen = (args.start, args.stop, args.window)
    log.info("%s: %d rows, %d channels, %d targets; %s", args.input, len(X), n_channels,
             y.shape[1], _describe(splits, len(X)))
    if everything or args.peers:
        models = peers(*chosen, args.pls_max, args.trees, args.seed)
        results = run_peers(models, X, y, splits, args.output, args.jobs)
        name, (_, r2, oof, _) = next(iter(results.items()))
        targets = list(y.columns)
        top = most_weighted(targets)
        weights_ = score_table(y, y.to_numpy()).weight.to_numpy()
        label = f"{name},\nstart {args.start}, stop {args.stop}, window {args.window}"
        plot_per_target(r2, targets, weights_, label, args.output / "per_target_r2.png")
        sites = X["SiteID"].to_numpy() if "SiteID" in X else None
        plot_predicted_actual(y[top], oof[:, :, targets.index(top)], sites, label,
                              args.output / f"predicted_vs_actual_{top}.png")
    if everything or args.scan:
        run_scan(X, y, splits, args.output, n_channels, *chosen, args.windows, args.starts,
                 args.stops, ALPHA_GRIDS, args.jobs)


if __name__ == "__main__":
    main()
