"""The model: a RidgeCV with one alpha per target whose predictions are clipped at 0.

`train.py` pickles it; the serving container unpickles it as `mdl.ClippedRidgeCV`, so this
module must sit beside `train.py` wherever the model is loaded.
"""
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

from preprocess import CHANNEL_NAME

ALPHAS = tuple(np.logspace(-5, 5, 50))
PREDICT_BLOCK_ROWS = 512  # rows summed at a time in predict: changes no digit of the output


class ClippedRidgeCV(RidgeCV):
    """RidgeCV (efficient leave-one-out, R² scoring, an alpha per target), clipped below at 0.

    Assays are concentrations, so a negative prediction is never better than 0. Fitted on a
    frame, it remembers the feature names (`feature_names_in_`) and at prediction time takes
    those columns by name from a frame, ignoring extra ones (targets, say), or from a headerless
    matrix by position: the fitted features, optionally followed by the fitted targets (the
    feature file's layout, as Batch Transform sends it without its header line). Zero rows
    give zero predictions.
    """

    def __init__(
        self,
        alphas=ALPHAS,
        *,
        fit_intercept=True,
        scoring="r2",
        cv=None,
        gcv_mode=None,
        store_cv_results=False,
        alpha_per_target=True,
    ):
        super().__init__(
            alphas=alphas,
            fit_intercept=fit_intercept,
            scoring=scoring,
            cv=cv,
            gcv_mode=gcv_mode,
            store_cv_results=store_cv_results,
            alpha_per_target=alpha_per_target,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Clipping at 0 is wrong for targets that can be negative, such as the standardised
        # ones scikit-learn's common checks score regressors on.
        tags.regressor_tags.poor_score = True
        return tags

    def __getstate__(self):
        # scikit-learn records its version only in the pickles of its own estimators; record
        # it here too, so that loading the model with another version can say so.
        return dict(super().__getstate__(), _sklearn_version=sklearn.__version__)

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_sklearn_version", "unknown")
        if saved != sklearn.__version__:
            warnings.warn(InconsistentVersionWarning(
                estimator_name=type(self).__name__, current_sklearn_version=sklearn.__version__,
                original_sklearn_version=saved,
            ))
        super().__setstate__(state)

    def _get_scorer(self):
        # RidgeCV scores every alpha on every target with r2_score, whose input checks cost
        # milliseconds a call: 2,450 calls (most of the fit) for 49 targets and 50 alphas.
        if self.scoring == "r2" and not sklearn.get_config()["enable_metadata_routing"]:
            return _r2
        return super()._get_scorer()

    def fit(self, X, y, **fit_params):
        # The matrices are small (features x features): BLAS threads cost more than they
        # save, and on a busy machine a second thread waiting for a core stalls each call.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y, **fit_params)

    def _fit(self, X, y, **fit_params):
        if _num_samples(X) < 2:
            raise ValueError(
                f"leave-one-out R² needs at least 2 samples, got n_samples = {_num_samples(X)}"
            )
        # RidgeCV with scoring and alpha_per_target fails on a 1-D y (scikit-learn indexes
        # its predictions as 2-D): fit one column and store what a 1-D fit would have.
        if y is None or np.ndim(np.asarray(y)) != 1:
            return super().fit(X, y, **fit_params)
        y = np.asarray(y)
        super().fit(X, y.reshape(-1, 1), **fit_params)
        self.coef_ = np.reshape(self.coef_, -1)
        for name in ("intercept_", "alpha_", "best_score_"):
            setattr(self, name, float(np.ravel(getattr(self, name))[0]))
        return self

    def predict(self, X):
        names = getattr(self, "feature_names_in_", None)
        if names is not None and isinstance(X, pd.DataFrame):
            self._check_columns([str(c) for c in X.columns])
            X = X[names]
        elif names is not None and np.ndim(X) == 2:
            widths = self._file_widths()
            if np.shape(X)[1] not in widths:
                raise ValueError(
                    f"the rows have {np.shape(X)[1]} columns after the index, but the model "
                    f"takes {widths[0]} features ({widths[1]} with the targets): send the "
                    "feature file's rows whole, or with its header line"
                )
            X = pd.DataFrame(np.asarray(X, dtype=float)[:, : len(names)], columns=names)
        if _num_samples(X) == 0:  # a request of Batch Transform that carries only the header
            return np.zeros((0, *np.shape(self.coef_)[:-1]))
        return np.maximum(self._linear_predict(X), 0.0)

    def _check_columns(self, columns):
        """Refuse a frame that lacks a fitted column, or whose spectral features differ."""
        names = list(self.feature_names_in_)
        missing = [c for c in names if c not in columns]
        channels = {c for c in names if CHANNEL_NAME.search(c)}
        new = [c for c in columns if CHANNEL_NAME.search(c) and c not in set(names)]
        if new or channels & set(missing):
            lost = [c for c in missing if c in channels]
            differences = "; ".join(
                [f"missing: {len(lost)} of {len(channels)}, such as {lost[:2]}"] * bool(lost)
                + [f"new: {len(new)}, such as {new[:2]}"] * bool(new)
            )
            raise ValueError(
                f"the spectral features differ from the model's ({differences}): the spectra "
                "must be on the wavenumber grid and channel count the model was trained on, so "
                "resample them or retrain"
            )
        if missing:
            raise ValueError(
                f"the features lack the column(s) {missing} the model was fitted on: give "
                "the file the metadata columns of the training file"
            )

    def _linear_predict(self, X):
        """X @ coef_.T + intercept_, each prediction summed in the same order in any batch.

        BLAS sums a matrix product in an order that depends on the number of rows, so a row's
        last digits would depend on how Batch Transform splits the file; a sum over the
        features, one column at a time, is the same for a row alone or among many. Rows go
        in blocks that keep the running sums in cache.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], reset=False)
        if not isinstance(X, np.ndarray):  # sparse
            return super().predict(X)
        coef = np.atleast_2d(self.coef_)
        out = np.empty((len(X), len(coef)))
        for start in range(0, len(X), PREDICT_BLOCK_ROWS):
            block = X[start : start + PREDICT_BLOCK_ROWS]
            total = np.zeros((len(block), len(coef)))
            for j in range(X.shape[1]):
                total += block[:, j : j + 1] * coef[:, j]
            out[start : start + len(block)] = total + self.intercept_
        return out if np.ndim(self.coef_) == 2 else out[:, 0]

    def _file_widths(self):
        """Widths of a headerless feature file: the features, or the features then the targets."""
        n_features = len(self.feature_names_in_)
        return n_features, n_features + (np.shape(self.coef_)[:-1] or (1,))[0]


def _r2(estimator, X, y, sample_weight=None):
    """The "r2" scorer's value, computed as r2_score does, without its input checks."""
    if sample_weight is not None:
        return r2_score(y, estimator.predict(X), sample_weight=sample_weight)
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    residuals = y - np.asarray(estimator.predict(X), dtype=float).reshape(y.shape)
    numerator = np.add.reduce(residuals**2, axis=0)
    denominator = np.add.reduce((y - np.add.reduce(y, axis=0) / len(y)) ** 2, axis=0)
    # r2_score's force_finite: exact predictions score 1, a constant target otherwise 0
    scores = [1.0 if n == 0 else 0.0 if d == 0 else 1 - n / d
              for n, d in zip(numerator.tolist(), denominator.tolist())]
    return sum(scores) / len(scores)
