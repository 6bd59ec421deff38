"""`make pipeline`'s steps, run as a user runs them in a fresh copy of the layout."""
import joblib
import numpy as np
import pandas as pd

from conftest import run
from preprocess import preprocess
from score import read_actual, score


def test_pipeline_steps_with_defaults(bundle):
    for script in ["preprocess.py", "train.py", "predict.py", "score.py"]:
        done = run(script, cwd=bundle)
        assert done.returncode == 0, f"{script} failed:\n{done.stderr}"
    raw = pd.read_csv(bundle / "data" / "public" / "public.csv.gz", index_col=0)
    features = pd.read_csv(bundle / "data" / "preprocess" / "public.csv", index_col=0)
    assert list(features.index) == list(raw.index)

    out = bundle / "data" / "predictions" / "public.csv.out"
    lines = out.read_text().splitlines()
    assert len(lines) == len(raw)
    predicted = np.array([[float(v) for v in line.split(",")] for line in lines])

    # the replay predicts what the model predicts in-process, to the last digits
    model = joblib.load(bundle / "model" / "model.joblib")
    expected = model.predict(preprocess(bundle / "data" / "public" / "public.csv.gz"))
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=1e-9)

    # score.py prints and writes the score computed in-process from the same predictions
    in_process = score(read_actual(bundle / "data" / "public" / "public.csv.gz"), predicted)
    printed = float(done.stdout.split("score:")[1])
    assert abs(printed - in_process) < 5e-5
    written = float((bundle / "data" / "scores" / "public.txt").read_text())
    assert written == in_process


def test_predict_with_a_broken_model_leaves_no_output(bundle):
    (bundle / "model").mkdir()
    (bundle / "model" / "model.joblib").write_bytes(b"not a model")
    done = run("predict.py", cwd=bundle)
    assert done.returncode != 0
    assert "GET /ping: 500" in done.stderr and "model_fn" in done.stderr
    assert not (bundle / "data" / "predictions" / "public.csv.out").exists()
