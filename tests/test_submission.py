"""The submission as the platform sees it: src.tar.gz built the unearthed CLI's way (`make
submission`), unpacked into empty folders that cannot see the repo, and each SageMaker job run
there: Processing with preprocess.py alone, Training with train.py, serving with model_fn."""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, raw_frame

# What the platform needs, and nothing else.
ARCHIVE = {"preprocess.py", "train.py", "mdl.py", "requirements.txt"}
# Modules of the repo that are not in the archive: importable only if the repo is on the path.
REPO_ONLY = ["predict", "serve", "score"]
CHANNELS, TARGETS = 400, ("CuPPM", "AuPPM")
FEATURES = 58  # 400 channels, window 7: channel 0, then 57 whole windows over channels 1..399

SERVE = """
import importlib.util, json, sys
from pathlib import Path
from train import input_fn, model_fn
model = model_fn(sys.argv[1])
prediction = model.predict(input_fn(Path(sys.argv[2]).read_text(), "text/csv"))
print(json.dumps({
    "prediction": prediction.tolist(),
    "files": {m: str(Path(sys.modules[m].__file__).resolve()) for m in ("train", "mdl", "preprocess")},
    "repo_only": [m for m in sys.argv[3:] if importlib.util.find_spec(m)],
}))
"""


def platform_env(**variables):
    """A job's environment: no PYTHONPATH or other PYTHON* setting, no user site, no SM_* of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SM_"))}
    return {**env, "PYTHONNOUSERSITE": "1", **{k: str(v) for k, v in variables.items()}}


def run_job(args, cwd, **variables):
    done = subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, env=platform_env(**variables),
        capture_output=True, text=True,
    )
    assert done.returncode == 0, f"{args[0]} failed in {cwd}:\n{done.stderr}"
    return done


def unpack(archive, dest, members=None):
    """Extract src.tar.gz (or only `members`) into `dest`, an empty folder, as the platform does."""
    dest.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        wanted = [m for m in tar.getmembers() if m.isfile()
                  and (members is None or Path(m.name).name in members)]
        tar.extractall(dest, members=wanted, filter="data")
    return dest


@pytest.fixture(scope="module")
def src_archive(tmp_path_factory):
    """src.tar.gz built by `make submission` in a copy of the checkout (the repo stays clean)."""
    checkout = tmp_path_factory.mktemp("checkout") / "re-core"
    skip = shutil.ignore_patterns(".venv*", ".git", "__pycache__", ".*_cache", ".hypothesis",
                                  "*.egg-info", "dist", "src.tar.gz", "model", "reports",
                                  "public", "preprocess", "predictions", "scores")
    shutil.copytree(ROOT, checkout, ignore=skip)
    done = subprocess.run(  # -o: the copy uses this interpreter instead of building a .venv
        ["make", "-o", ".venv/.installed", "submission", f"PY={sys.executable}"],
        cwd=checkout, capture_output=True, text=True,
    )
    assert done.returncode == 0, f"make submission failed:\n{done.stdout}\n{done.stderr}"
    assert not (checkout / "dist").exists() and not list(checkout.glob("*.egg-info"))
    return checkout / "src.tar.gz"


def archive_names(archive):
    with tarfile.open(archive) as tar:
        return {Path(m.name).as_posix() for m in tar.getmembers() if m.isfile()}


def test_archive_holds_exactly_what_the_platform_runs(src_archive):
    assert archive_names(src_archive) == ARCHIVE  # flat: no folder, no packaging file
    with tarfile.open(src_archive) as tar:
        for name in ARCHIVE:
            packed = tar.extractfile(tar.getmember(f"./{name}")).read()
            assert packed == (ROOT / name).read_bytes(), f"{name} differs from the repo's"


def test_readme_lists_the_archive(src_archive):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Submitting with the unearthed CLI", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^- `([^`]+)`", section, flags=re.MULTILINE))
    assert listed == archive_names(src_archive)


def test_jobs_run_from_the_unpacked_archive(tmp_path, src_archive):
    raw = raw_frame(rows=30, channels=CHANNELS, targets=TARGETS, seed=5)
    opt_ml = tmp_path / "opt" / "ml"
    training = opt_ml / "input" / "data" / "training"
    training.mkdir(parents=True)
    raw.to_csv(training / "public.csv.gz")

    # Processing job: preprocess.py alone in its folder
    processing_code = unpack(src_archive, opt_ml / "processing" / "input" / "code",
                             members={"preprocess.py"})
    features_file = opt_ml / "processing" / "output" / "preprocess" / "public.csv"
    run_job(["preprocess.py", "--input", training / "public.csv.gz", "--output", features_file],
            cwd=processing_code)
    assert [p.name for p in processing_code.iterdir()] == ["preprocess.py"]
    features = pd.read_csv(features_file, index_col=0)
    assert list(features.index) == list(raw.index)
    assert features.shape[1] == 3 + FEATURES + len(TARGETS)
    assert list(features.columns[-2:]) == list(TARGETS)

    # Training job: the whole archive in /opt/ml/code, paths from SageMaker's variables
    code = unpack(src_archive, opt_ml / "code")
    model_dir = opt_ml / "model"
    run_job(["train.py"], cwd=code, SM_CHANNEL_TRAINING=training, SM_MODEL_DIR=model_dir)
    assert (model_dir / "model.joblib").is_file()

    # Serving: a fresh process loads the model with model_fn and predicts the feature file
    done = run_job(["-c", SERVE, model_dir, features_file, *REPO_ONLY], cwd=code)
    served = json.loads(done.stdout)
    assert served["repo_only"] == [], "the job could import modules of the repo: not isolated"
    for module, file in served["files"].items():
        assert Path(file).parent == code.resolve(), f"{module} was imported from {file}"
    prediction = np.array(served["prediction"])
    assert prediction.shape == (len(raw), len(TARGETS))
    assert np.isfinite(prediction).all() and (prediction >= 0).all()
    model = joblib.load(model_dir / "model.joblib")
    np.testing.assert_allclose(prediction, model.predict(features), rtol=0, atol=1e-9)
