"""val.py: the preprocessing inside cross-validation, leakage, and a tiny run of each job."""
import numpy as np
import pandas as pd
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import GridSearchCV, KFold

from conftest import ROOT, raw_frame, run
from preprocess import TARGETS, preprocess
from score import most_weighted, score
from test_eda import assert_drawn, challenge_file
from val import PLSCV, Features, cross_validate, folds, load, nested_pls_predictions, peers

TINY = ["--pls-max", "2", "--trees", "5"]


def small_problem(rows=24, channels=360, targets=("SOCPCT", "pH"), seed=0):
    frame = raw_frame(rows=rows, channels=channels, targets=targets, seed=seed)
    return frame.drop(columns=list(targets)), frame[list(targets)]


def test_most_weighted_is_cu_on_challenge_weights_and_the_first_on_a_tie():
    assert most_weighted(TARGETS) == "CuPPM"
    assert most_weighted(["ClayPCT", "pH", "SOCPCT"]) == "ClayPCT"


def test_features_in_the_pipeline_are_the_processing_steps_output():
    frame = raw_frame(rows=12, channels=330, targets=("CuPPM",))
    X = frame.drop(columns="CuPPM")
    for start, stop, window in [(0, -300, 7), (5, -20, 3), (0, -1, 1)]:
        expected = preprocess(frame, start, stop, window).drop(columns="CuPPM")
        got = Features(start, stop, window).fit(X.iloc[:3]).transform(X)
        pd.testing.assert_frame_equal(got, expected)


def test_pls_components_chosen_as_a_grid_search_would():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 30))
    y = np.column_stack([X[:, :4].sum(axis=1), X[:, 10] - X[:, 20]]) + rng.normal(0, 1, (40, 2))
    new = rng.normal(size=(7, 30))
    for k, column in enumerate(nested_pls_predictions(X, y[:, 0], new, 6).T, start=1):
        np.testing.assert_allclose(column, PLSRegression(k).fit(X, y[:, 0]).predict(new),
                                   atol=1e-10)
    ours = PLSCV(max_components=6, cv=5, random_state=0).fit(X, y)
    for j in range(2):
        search = GridSearchCV(PLSRegression(), {"n_components": range(1, 7)},
                              scoring="neg_mean_squared_error",
                              cv=KFold(5, shuffle=True, random_state=0)).fit(X, y[:, j])
        assert ours.n_components_[j] == search.best_params_["n_components"]
        np.testing.assert_allclose(ours.predict(new)[:, j], search.predict(new), atol=1e-10)


@pytest.mark.parametrize("name", ["reference", "PLS", "forest"])
def test_a_test_folds_rows_do_not_reach_its_training(name):
    X, y = small_problem()
    model = next(m for k, m in peers(pls_max=3, trees=5).items()
                 if name.lower() in k.lower())
    splits = folds(len(X), repeats=1, n_folds=3, seed=1)
    _, test = splits[0]
    kept, others = test[0], test[1:]
    oof = cross_validate(model, X, y, splits[:3])[2][0]

    # every other row of that test fold, spectra and targets, changed beyond recognition
    rng = np.random.default_rng(5)
    X2, y2 = X.copy(), y.copy()
    X2.iloc[others, 3:] = X2.iloc[others, 3:] * rng.uniform(0.2, 5, (len(others), 1)) + 3
    y2.iloc[others] = rng.normal(100, 50, (len(others), y.shape[1]))
    oof2 = cross_validate(model, X2, y2, splits[:3])[2][0]
    np.testing.assert_allclose(oof2[kept], oof[kept], rtol=0, atol=1e-10)

    # whereas a training row's target does move the prediction (the check can fail)
    y3 = y.copy()
    y3.iloc[splits[0][0][:3]] += 50
    oof3 = cross_validate(model, X, y3, splits[:3])[2][0]
    assert not np.allclose(oof3[kept], oof[kept])


def test_val_on_a_challenge_shaped_file(tmp_path):
    # four of the 49 assays: ClippedRidgeCV's R² scoring takes seconds per fit on all 49
    data = challenge_file(tmp_path / "challenge.csv.gz", rows=24)
    targets = ["AgPPM", "AuPPM", "CuPPM", "FePCT"]
    X, y, spectra = load(data, targets)
    assert list(y.columns) == targets and len(spectra) == 400
    assert not set(TARGETS) & set(X.columns)  # the other 45 assays are no inputs
    out = tmp_path / "val"
    done = run("val.py", "--peers", "--input", data, "--output", out, "--repeats", "2",
               "--folds", "2", "--targets", ",".join(targets), "--jobs", "1", *TINY, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "peers.csv")
    assert len(table) == 5 and table.model[0].startswith("ClippedRidgeCV")
    assert "R² CuPPM" in table and table["diff"][0] == 0
    assert "Peers: 4 folds (2 repeats x 2 folds)" in done.stdout
    assert done.stdout.count("\n| ") == 6  # header and one row per model

    oof = pd.read_csv(out / "oof_predictions.csv.gz", index_col=0)
    assert list(oof.columns) == ["model", "repeat", *targets]
    assert len(oof) == 5 * 2 * 24 and not oof[targets].isna().any().any()
    actual = pd.read_csv(data, index_col=0)[targets]
    assert (actual.CuPPM < 0).sum() == 3 and (actual.AuPPM < 0).sum() == 3
    reference = oof[oof.model == table.model[0]]
    for repeat, part in reference.groupby("repeat"):
        assert list(part.index) == list(actual.index)
        assert (part[targets] >= 0).all().all()  # the reference clips at 0
    # the table's mean is the mean of the fold scores of those predictions
    splits = folds(24, repeats=2, n_folds=2, seed=0)
    fold_scores = [score(actual.iloc[test], reference[reference.repeat == i // 2]
                         [targets].to_numpy()[test]) for i, (_, test) in enumerate(splits)]
    assert table["mean"][0] == pytest.approx(np.mean(fold_scores), abs=1e-9)

    for name in ["per_target_r2.png", "predicted_vs_actual_CuPPM.png"]:
        assert_drawn(out / name)


def test_val_scan(tmp_path):
    frame = raw_frame(rows=24, channels=360, targets=("ClayPCT", "pH"), seed=4)
    frame.to_csv(tmp_path / "mine.csv")
    out = tmp_path / "val"
    done = run("val.py", "--scan", "--input", tmp_path / "mine.csv", "--output", out,
               "--repeats", "1", "--folds", "2", "--windows", "3", "7", "--stops", "-300",
               "-100", "-360", "--starts", "0", "20", "--jobs", "1", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "-360" in done.stderr and "too few" in done.stderr  # skipped, with a warning
    table = pd.read_csv(out / "scan.csv")
    grid = table[table.scan == "window x stop"]
    assert sorted(zip(grid.window, grid.stop)) == [(3, -300), (3, -100), (7, -300), (7, -100)]
    assert sorted(table[table.scan == "start"].start) == [0, 20]
    assert (table.scan == "alphas").sum() == 5
    # the reference setting, wherever it appears, scores the same as the reference
    same = table[(table.scan != "alphas") & (table.start == 0) & (table.stop == -300)
                 & (table.window == 7)]
    assert len(same) == 2 and np.allclose(same["diff"], 0) and np.allclose(same["diff_sd"], 0)
    assert table["mean"].between(-10, 1).all()
    assert not (out / "peers.csv").exists()
    assert_drawn(out / "scan_window_stop_start_alphas.png")


def test_grouped_folds_keep_each_site_in_one_fold():
    groups = np.repeat([1, 2, 3, 4], 5)
    splits = folds(20, repeats=2, n_folds=2, seed=0, groups=groups)
    assert len(splits) == 4
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    for repeat in (splits[:2], splits[2:]):
        assert sorted(np.concatenate([test for _, test in repeat])) == list(range(20))
