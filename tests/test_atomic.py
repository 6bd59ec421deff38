"""Every output is written atomically: a step killed or failing midway leaves the previous
file intact (or none), never a partial one.

Each kill test runs the step's own code in a child process with one function wrapped so
that the process SIGKILLs itself in the middle of writing the output. A step that wrote its
output in place would leave it truncated or partial, and the test would see it.
"""
import subprocess
import sys
import textwrap
from argparse import Namespace
from pathlib import Path

import pytest

import score
from conftest import ROOT, raw_frame
from mdl import ClippedRidgeCV
from preprocess import preprocess, split_columns, write_features
from train import save_model

PREVIOUS = b"the previous output\n"
KILL = """
import builtins, io, os, signal

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def kill_while_writing(folder):
    \"\"\"Any file opened for writing under `folder` gets half its first write, then we die.\"\"\"
    real_open, folder = io.open, os.path.abspath(folder)

    class Dying:
        def __init__(self, file):
            self.file = file
        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            die()
        def writelines(self, lines):
            lines = list(lines)
            self.write(lines[0][:0].join(lines))
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.file.close()
        def __getattr__(self, name):
            return getattr(self.file, name)

    def dying_open(file, mode="r", *args, **kwargs):
        opened = real_open(file, mode, *args, **kwargs)
        if (isinstance(file, (str, os.PathLike)) and set(mode) & set("wax")
                and os.path.abspath(file).startswith(folder + os.sep)):
            return Dying(opened)
        return opened

    builtins.open = io.open = dying_open
"""


def run_killed(code, cwd):
    done = subprocess.run([sys.executable, "-c", KILL + textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == -9, f"the step was not killed:\n{done.stderr}"


def visible(folder):
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith("."))


def fitted_model(folder):
    data = preprocess(raw_frame(rows=20, channels=400))
    _, _, targets = split_columns(data.columns)
    save_model(ClippedRidgeCV().fit(data.drop(columns=targets), data[targets]), folder)
    return data


@pytest.mark.parametrize("previous", [PREVIOUS, None], ids=["previous file", "no file"])
def test_preprocess_killed_between_chunks(tmp_path, previous):
    raw_frame(rows=30, channels=400).to_csv(tmp_path / "raw.csv")
    out = tmp_path / "features" / "public.csv"
    out.parent.mkdir()
    if previous:
        out.write_bytes(previous)
    run_killed("""
        import preprocess
        write, chunk = preprocess.write_features, preprocess.preprocess
        calls = []
        def killing_chunk(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:  # two chunks of 5 rows are written
                die()
            return chunk(*args, **kwargs)
        preprocess.preprocess = killing_chunk
        preprocess.write_features = lambda i, o, **params: write(i, o, chunksize=5, **params)
        preprocess.main(["--input", "raw.csv", "--output", "features/public.csv"])
    """, cwd=tmp_path)
    if previous:
        assert out.read_bytes() == previous
    else:
        assert not out.exists()
    assert visible(out.parent) == (["public.csv"] if previous else [])


def test_preprocess_failing_in_a_later_chunk(tmp_path):
    raw = raw_frame(rows=30, channels=400)
    raw.iloc[17, 3:-2] = 0.0  # the fourth chunk of 5 rows cannot be normalised
    raw.to_csv(tmp_path / "raw.csv")
    out = tmp_path / "public.csv"
    out.write_bytes(PREVIOUS)
    with pytest.raises(ValueError, match="row 'S0017'"):
        write_features(tmp_path / "raw.csv", out, chunksize=5)
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public.csv", "raw.csv"]


def test_model_killed_while_saving(tmp_path):
    raw_frame(rows=20, channels=400).to_csv(tmp_path / "public.csv.gz")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(PREVIOUS)
    run_killed("""
        import joblib, train
        def killing_dump(model, path):
            with open(path, "wb") as out:
                out.write(b"half a model")
                out.flush()
                die()
        joblib.dump = killing_dump
        train.main(["--data_dir", ".", "--model_dir", "model"])
    """, cwd=tmp_path)
    assert (tmp_path / "model" / "model.joblib").read_bytes() == PREVIOUS
    assert visible(tmp_path / "model") == ["model.joblib"]


def test_model_that_fails_to_save(tmp_path):
    (tmp_path / "model.joblib").write_bytes(PREVIOUS)
    with pytest.raises(Exception):
        save_model(lambda: "a lambda cannot be pickled", tmp_path)
    assert (tmp_path / "model.joblib").read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib"]


def test_predictions_killed_while_writing(tmp_path):
    data = fitted_model(tmp_path / "model")
    data.to_csv(tmp_path / "public.csv")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "public.csv.out").write_bytes(PREVIOUS)
    run_killed(f"""
        import predict
        kill_while_writing("out")
        predict.batch_transform("public.csv", {str(tmp_path / "model")!r}, "out")
    """, cwd=tmp_path)
    out = tmp_path / "out" / "public.csv.out"
    assert not out.exists() or out.read_bytes() == PREVIOUS
    assert visible(tmp_path / "out") in ([], ["public.csv.out"])


def test_score_killed_while_writing(tmp_path):
    raw_frame(rows=4, channels=400).to_csv(tmp_path / "actual.csv")
    (tmp_path / "pred.out").write_text("1,2\n3,4\n5,6\n7,9\n")
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / "public.txt").write_bytes(PREVIOUS)
    run_killed("""
        import score
        kill_while_writing("scores")
        score.main(["--actual", "actual.csv", "--predicted", "pred.out",
                    "--output", "scores/public.txt"])
    """, cwd=tmp_path)
    assert (tmp_path / "scores" / "public.txt").read_bytes() == PREVIOUS
    assert visible(tmp_path / "scores") == ["public.txt"]


def test_score_that_fails_keeps_the_previous_score(tmp_path):
    raw_frame(rows=4, channels=400).to_csv(tmp_path / "actual.csv")
    (tmp_path / "pred.out").write_text("1,2\n3,4\n5,6\n")  # a row is missing
    (tmp_path / "public.txt").write_bytes(PREVIOUS)
    with pytest.raises(SystemExit, match="must match row for row"):
        score.main(["--actual", str(tmp_path / "actual.csv"), "--predicted",
                    str(tmp_path / "pred.out"), "--output", str(tmp_path / "public.txt")])
    assert (tmp_path / "public.txt").read_bytes() == PREVIOUS


def test_train_that_fails_keeps_the_previous_model(tmp_path):
    from train import train
    raw_frame(rows=6, channels=400, targets=()).to_csv(tmp_path / "public.csv.gz")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(PREVIOUS)
    with pytest.raises(ValueError, match="no target columns"):
        train(Namespace(data_dir=tmp_path, model_dir=tmp_path / "model"))
    assert (tmp_path / "model" / "model.joblib").read_bytes() == PREVIOUS
