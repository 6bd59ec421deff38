"""What a submission holds: the unearthed CLI packs the bundle with `python setup.py sdist`.

`unearthed submit` (and `unearthed build`) runs `python setup.py sdist`, flattens the archive
into src.tar.gz and drops the packaging files (setup.py, setup.cfg, pyproject.toml,
MANIFEST.in); SageMaker then pip-installs requirements.txt and runs the steps from that folder.
So the archive holds the modules below and requirements.txt (see MANIFEST.in), nothing else.

    make submission        # builds src.tar.gz the same way, without Docker; lists its contents
"""
from setuptools import setup

# The Processing job runs preprocess.py; the Training job runs train.py, which imports mdl and
# preprocess; the model server imports train (model_fn, input_fn) and unpickles mdl's model.
MODULES = ["preprocess", "train", "mdl"]

setup(
    name="re-core",
    version="1.0.0",
    description="FTIR spectra -> element assays, as a SageMaker scikit-learn script bundle",
    py_modules=MODULES,
    python_requires=">=3.11",
)
