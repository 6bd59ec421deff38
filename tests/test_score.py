"""score.py: the challenge's weighted R², and files that do not match are refused."""
import numpy as np
import pandas as pd
import pytest

from conftest import run
from preprocess import TARGETS
from score import score, weights

# The challenge's weights, as DESIGN §6 states them.
MAJOR = "AgPPM FePCT NiPPM PbPPM ZnPPM AlPPM CaPPM KPPM MgPPM NaPPM".split()


def hand_weight(target):
    return {"CuPPM": 0.35, "AuPPM": 0.04}.get(target, 0.025 if target in MAJOR else 0.01)


def hand_r2(actual, predicted):
    residual = ((actual - predicted) ** 2).sum()
    total = ((actual - actual.mean()) ** 2).sum()
    return 1 - residual / total


def test_challenge_weights_sum_to_1_01():
    assert weights(TARGETS).sum() == pytest.approx(1.01)
    assert len(TARGETS) == 49 and weights(TARGETS)[TARGETS.index("CuPPM")] == 0.35


def test_weighted_r2_by_hand():
    rng = np.random.default_rng(1)
    actual = pd.DataFrame(rng.lognormal(0, 1, (30, 49)), columns=TARGETS)
    predicted = actual.to_numpy() + rng.normal(0, 0.5, actual.shape)
    expected = sum(
        hand_weight(t) * hand_r2(actual[t].to_numpy(), predicted[:, j])
        for j, t in enumerate(TARGETS)
    )
    assert score(actual, predicted) == pytest.approx(expected, abs=1e-12)
    assert score(actual, actual.to_numpy()) == pytest.approx(1.01)
    means = np.tile(actual.mean().to_numpy(), (30, 1))
    assert score(actual, means) == pytest.approx(0, abs=1e-12)


def test_other_targets_get_equal_weights():
    actual = pd.DataFrame({"ClayPCT": [1.0, 2, 3, 4], "pH": [5.0, 6, 7, 7.5]})
    predicted = np.array([[1, 5], [2, 6], [3, 7], [4, 6]], dtype=float)
    expected = (1.0 + hand_r2(actual.pH.to_numpy(), predicted[:, 1])) / 2
    assert score(actual, predicted) == pytest.approx(expected)


def write_pair(tmp_path, predicted_lines):
    actual = pd.DataFrame({"3799.0": [1.0, 2, 3], "ClayPCT": [1.0, 2, 3], "pH": [5.0, 6, 7]},
                          index=["a", "b", "c"])
    actual.to_csv(tmp_path / "actual.csv")
    (tmp_path / "pred.out").write_text("".join(line + "\n" for line in predicted_lines))
    return ["--actual", tmp_path / "actual.csv", "--predicted", tmp_path / "pred.out",
            "--output", tmp_path / "score.txt"]


def test_score_cli_matches_in_process(tmp_path):
    from conftest import ROOT
    args = write_pair(tmp_path, ["1,5", "2,6", "3,6"])
    done = run(ROOT / "score.py", *args, "--per-target", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = (1 + hand_r2(np.array([5.0, 6, 7]), np.array([5.0, 6, 6]))) / 2
    assert float((tmp_path / "score.txt").read_text()) == pytest.approx(expected)
    assert f"score: {expected:.4f}" in done.stdout and "ClayPCT" in done.stdout


@pytest.mark.parametrize("lines", [["1,5", "2,6"], ["1,5,0", "2,6,0", "3,7,0"],
                                   ["1", "2", "3"], ["1,5", "2,6", "3,7", "4,8"]])
def test_score_refuses_mismatched_shapes(tmp_path, lines):
    from conftest import ROOT
    done = run(ROOT / "score.py", *write_pair(tmp_path, lines), cwd=tmp_path)
    assert done.returncode != 0
    assert "must match row for row" in done.stderr
    assert not (tmp_path / "score.txt").exists()
