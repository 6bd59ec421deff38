"""Properties, checked with hypothesis on generated spectra and files:
the feature recipe's shape, scale invariance and window sums; input_fn reads back any feature
CSV that preprocess writes."""
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from preprocess import METADATA, TARGETS, preprocess, window_features, write_features
from train import input_fn

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# no subnormal numbers: scaling them by a power of two is not exact
VALUES = st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: 0.0 if abs(v) < 1e-200 else v)


@st.composite
def spectra(draw, min_channels=301, max_channels=340):
    """(n_rows, n_channels) spectra whose maximum over channels [0:-300] is above 0.

    Random smooth-ish spectra at a drawn scale, with drawn values (zeros, negatives, spikes)
    put at drawn channels: drawing every channel with hypothesis would be slow.
    """
    n = draw(st.integers(1, 4))
    m = draw(st.integers(min_channels, max_channels))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-0.2, 1, (n, m)).cumsum(axis=1) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    for _ in range(draw(st.integers(0, 12))):
        x[draw(st.integers(0, n - 1)), draw(st.integers(0, m - 1))] = draw(VALUES)
    assume((x[:, :-300].max(axis=1) >= 1e-6).all())
    return x


@SETTINGS
@given(x=spectra(), window=st.integers(1, 25))
def test_shape_and_names(x, window):
    values, channels = window_features(x, window=window)
    n, m = x.shape
    assert values.shape == (n, (m - 1) // window + 1)
    assert list(channels) == list(range(0, m, window))


@SETTINGS
@given(x=spectra(), window=st.integers(1, 25), power=st.integers(-60, 60),
       factor=st.floats(1e-3, 1e3))
def test_normalisation_is_scale_invariant(x, window, power, factor):
    values, _ = window_features(x, window=window)
    # scaling by a power of two is exact in floating point, so the features must be equal
    np.testing.assert_array_equal(window_features(x * 2.0**power, window=window)[0], values)
    scaled, _ = window_features(x * factor, window=window)
    np.testing.assert_allclose(scaled, values, rtol=1e-9, atol=1e-9 * np.abs(values).max())


@SETTINGS
@given(x=spectra(), window=st.integers(1, 25))
def test_features_are_trailing_window_sums(x, window):
    values, _ = window_features(x, window=window)
    for i, row in enumerate(x.tolist()):
        hi, lo = max(row[:-300]), min(row[:-300])
        normed = [min(max(v, lo), hi) / hi for v in row]
        expected = [sum(normed[max(0, k - window + 1): k + 1])
                    for k in range(0, len(row), window)]
        np.testing.assert_allclose(values[i], expected, rtol=1e-9,
                                   atol=1e-9 * max(1, max(map(abs, expected))))


@SETTINGS
@given(x=spectra(), window=st.integers(1, 25))
def test_rows_are_independent(x, window):
    values, _ = window_features(x, window=window)
    for i in range(len(x)):
        np.testing.assert_array_equal(window_features(x[i:i + 1], window=window)[0][0], values[i])


@st.composite
def raw_files(draw):
    """A raw frame as a user's file may have it: some metadata, spectra, some targets."""
    x = draw(spectra(max_channels=320))
    n, m = x.shape
    ids = draw(st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,8}", fullmatch=True),
                        min_size=n, max_size=n))
    frame = pd.DataFrame(x, index=pd.Index(ids, name=draw(st.sampled_from(["SampleID", None]))),
                         columns=[f"{3800 - 1.93 * j:.2f}" for j in range(m)])
    for name in draw(st.lists(st.sampled_from(METADATA), unique=True)):
        frame.insert(0, name, draw(st.lists(VALUES, min_size=n, max_size=n)))
    for name in draw(st.lists(st.sampled_from(TARGETS[:6] + ["ClayPCT"]), unique=True,
                              max_size=3)):
        frame[name] = draw(st.lists(st.floats(-100, 1e5), min_size=n, max_size=n))
    return frame


@settings(SETTINGS, max_examples=25)
@given(raw=raw_files(), split=st.integers(0, 4))
def test_input_fn_reads_back_what_preprocess_writes(raw, split):
    expected = preprocess(raw)
    with tempfile.TemporaryDirectory() as folder:
        raw.to_csv(Path(folder) / "raw.csv")
        write_features(Path(folder) / "raw.csv", Path(folder) / "features.csv", chunksize=3)
        body = (Path(folder) / "features.csv").read_text()
    got = input_fn(body, "text/csv")
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_index_type=False)

    # Batch Transform with SplitType Line: the header comes with the first request only
    lines = body.splitlines(keepends=True)
    split = min(split, len(lines) - 1)
    rest = "".join(lines[1 + split:])
    if rest:
        np.testing.assert_array_equal(input_fn(rest, "text/csv"),
                                      expected.to_numpy(dtype=float)[split:])
