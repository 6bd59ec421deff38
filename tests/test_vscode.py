"""The VSCode set-up: every launch configuration runs something that exists, in an environment
that points at the folders the pipeline uses; the settings use the Makefile's environment."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from preprocess import LOCAL

WORKSPACE = "${workspaceFolder}"
LAUNCH = json.loads((ROOT / ".vscode" / "launch.json").read_text())["configurations"]
SETTINGS = json.loads((ROOT / ".vscode" / "settings.json").read_text())

# Imports the programs with no SM_* variable set, then, for each launch environment, sets it and
# re-imports every module of the bundle: prints the Paths each module holds at the top level
# (its defaults: the folders the steps read and write) in each case.
DEFAULTS = """
import importlib, json, os, sys
from pathlib import Path
root, programs, envs = Path(sys.argv[1]), sys.argv[2].split(","), json.loads(sys.argv[3])

def bundle():
    return [m for m in list(sys.modules.values())
            if getattr(m, "__file__", None) and Path(m.__file__).resolve().parent == root]

def defaults():
    return {f"{m.__name__}.{attr}": str(value)
            for m in bundle() for attr, value in vars(m).items() if isinstance(value, Path)}

for program in programs:
    importlib.import_module(program)
found = {"": defaults()}
for name, variables in envs.items():
    os.environ.update(variables)
    for module in reversed(bundle()):  # a module after those it imports
        importlib.reload(module)
    found[name] = defaults()
    for variable in variables:
        del os.environ[variable]
print(json.dumps(found))
"""
WITH_ENV = [c for c in LAUNCH if c.get("env")]


def resolve(value):
    return value.replace(WORKSPACE, str(ROOT))


@pytest.fixture(scope="module")
def defaults():
    """The bundle's Path defaults without SM_* variables ("") and under each launch env."""
    programs = ",".join(Path(c["program"]).stem for c in WITH_ENV)
    envs = {c["name"]: {k: resolve(v) for k, v in c["env"].items()} for c in WITH_ENV}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SM_"))}
    done = subprocess.run(
        [sys.executable, "-c", DEFAULTS, str(ROOT), programs, json.dumps(envs)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def env_file_variables():
    lines = (ROOT / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("config", LAUNCH, ids=[c["name"] for c in LAUNCH])
def test_launch_configuration_runs_something_that_exists(config):
    assert config["type"] == "debugpy" and config["request"] == "launch"
    assert Path(resolve(config["cwd"])) == ROOT
    assert resolve(config["envFile"]) == resolve(SETTINGS["python.envFile"])
    if "program" in config:
        program = Path(resolve(config["program"]))
        assert program.is_file(), f"{config['name']}: {program} does not exist"
    elif "module" in config:
        assert importlib.util.find_spec(config["module"]), f"{config['module']} is not installed"
    else:
        assert config.get("purpose") == ["debug-test"], f"{config['name']} runs nothing"


@pytest.mark.parametrize("config", WITH_ENV, ids=[c["name"] for c in WITH_ENV])
def test_launch_environment_points_at_the_pipeline_folders(config, defaults):
    folders = {ROOT / folder for folder in LOCAL.values()}
    for name, value in config["env"].items():
        readers = [p.name for p in ROOT.glob("*.py") if f'"{name}"' in p.read_text()]
        assert readers, f"{config['name']}: no module of the bundle reads {name}"
        if WORKSPACE in value:
            assert Path(resolve(value)) in folders, f"{config['name']}: {name}={value}"
    # Under the launch environment every step reads and writes where the CLI's mounts are.
    assert defaults[""], "found no Path default in the bundle"
    assert defaults[config["name"]] == defaults[""]


def test_settings_use_the_makefile_environment():
    venv = re.search(r"^VENV\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert SETTINGS["python.defaultInterpreterPath"] == f"{WORKSPACE}/{venv}/bin/python"
    assert SETTINGS["python.terminal.activateEnvironment"] is True
    assert SETTINGS["python.terminal.useEnvFile"] is True
    assert SETTINGS["python.testing.pytestEnabled"] is True
    assert Path(resolve(SETTINGS["python.envFile"])) == ROOT / ".env"


def test_env_file_sets_no_sagemaker_path():
    # The test runner and the terminal read .env too: an SM_MODEL_DIR there would send the
    # tests' copies of the bundle to the repo's model/ folder.
    variables = env_file_variables()
    assert variables, ".env sets nothing"
    assert not [name for name in variables if name.startswith("SM_")]
