# The two commands:  make pipeline  and  make test  (and make bench, for speed and memory).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TOOLKIT_VENV := .venv-toolkit
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
DATA := data/public/public.csv.gz

.PHONY: pipeline test bench data clean figures submission

# The environment: runtime, data preparation and test dependencies, rebuilt when they change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

# The real SageMaker serving toolkit, in its own environment: tests/test_toolkit.py compares
# serve.py with it.
$(TOOLKIT_VENV)/.installed: requirements.txt requirements-toolkit.txt
	test -x $(TOOLKIT_VENV)/bin/python || $(PYTHON) -m venv $(TOOLKIT_VENV)
	$(TOOLKIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-toolkit.txt
	touch $@

$(DATA): data/limesoda/prepare.py | $(VENV)/.installed
	$(PY) data/limesoda/prepare.py

data: $(DATA)

pipeline: $(VENV)/.installed $(DATA)
	$(PY) preprocess.py
	$(PY) train.py
	$(PY) predict.py
	$(PY) score.py

test: $(VENV)/.installed $(TOOLKIT_VENV)/.installed
	$(PY) -m pytest

# Speed and memory on synthetic data of the challenge's shape (1x, 10x, 100x; up to 4 GB of temp
# files, about 20 minutes). Quick: make bench BENCH="--sizes 1 10"
BENCH ?=
bench: $(VENV)/.installed
	$(PY) bench.py $(BENCH)

# eda.py and val.py on the default data (reports/, minutes), and the README's figures in docs/.
figures: $(VENV)/.installed $(DATA)
	$(PY) eda.py
	$(PY) val.py
	mkdir -p docs
	cp reports/val/scan_window_stop_start_alphas.png reports/val/per_target_r2.png \
	   reports/val/predicted_vs_actual_SOCPCT.png reports/eda/spectra_highest_lowest_SOCPCT.png docs/

# src.tar.gz as `unearthed submit` builds it (in Docker there): an sdist, flattened, without
# the packaging files. Look inside before you submit: `tar tzf src.tar.gz`.
submission: $(VENV)/.installed
	rm -rf dist *.egg-info
	$(PY) setup.py --quiet sdist
	tar xzf dist/*.tar.gz -C dist --strip-components=1
	cd dist && rm -rf *.tar.gz PKG-INFO *.egg-info setup.py setup.cfg pyproject.toml MANIFEST.in \
		&& tar czf ../src.tar.gz .
	rm -rf dist *.egg-info
	tar tzf src.tar.gz

clean:
	rm -rf data/preprocess data/predictions data/scores model
