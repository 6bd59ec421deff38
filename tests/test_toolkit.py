"""serve.py answers as the real SageMaker serving toolkit does, request for request.

The reference is `sagemaker-containers` (the toolkit of the scikit-learn container 0.23-1)
serving the bundle's `train.py` through `tests/toolkit/sklearn_container.py`, under gunicorn
with gevent workers, from `.venv-toolkit` (built by `make test`). Both servers load the same
model and get the same requests; they must give the same status for every request and the
same body and Content-Type for every success.

One difference is by design and asserted: on a failure the toolkit answers Flask's generic
HTML page (the reason is only in its log), while serve.py says what went wrong in the body.
"""
import contextlib
import http.client
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import joblib
import pytest

import predict
import serve
import train
from conftest import ROOT, raw_frame
from mdl import ClippedRidgeCV
from preprocess import preprocess

TOOLKIT_VENV = Path(os.environ.get("TOOLKIT_VENV", ROOT / ".venv-toolkit"))
TARGETS = ["CuPPM", "AuPPM"]
GENERIC_PAGE = {  # Flask's bodies for errors, whatever their cause
    404: b"<title>404 Not Found</title>",
    405: b"<title>405 Method Not Allowed</title>",
    500: b"<title>500 Internal Server Error</title>",
}


@pytest.fixture(scope="module")
def features():
    """A feature file as preprocess writes it: index, metadata, features, then the targets."""
    return preprocess(raw_frame(rows=12, channels=400, targets=TARGETS))


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, features):
    """SageMaker's /opt/ml for the toolkit: the model, fitted as train.py fits it, in model/."""
    base = tmp_path_factory.mktemp("opt_ml")
    model = ClippedRidgeCV().fit(features.drop(columns=TARGETS), features[TARGETS])
    train.save_model(model, base / "model")
    return base


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def toolkit_server(base_dir):
    """The toolkit's model server on 127.0.0.1, as `serve` starts it but without nginx: its
    port and the status of its first GET /ping."""
    gunicorn = TOOLKIT_VENV / "bin" / "gunicorn"
    if not gunicorn.exists():
        pytest.fail(f"{gunicorn} is missing: build the toolkit's environment with `make test`")
    port = free_port()
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base_dir),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "toolkit"), str(ROOT)])}
    log = base_dir / "gunicorn.log"  # a file, not a pipe: a full pipe would stall the server
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [gunicorn, "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}",
             "sklearn_container:main"],
            env=env, cwd=base_dir, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = ask(port, "GET", "/ping")[0]
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the toolkit's server did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield port, status
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def toolkit(base_dir):
    with toolkit_server(base_dir) as (port, status):
        assert status == 200, (base_dir / "gunicorn.log").read_text()
        yield port


@pytest.fixture(scope="module")
def ours(base_dir):
    with predict.ModelServer(base_dir / "model") as server:
        yield int(server.url.rsplit(":", 1)[1])


def ask(port, method, path, body=None, headers=()):
    """(status, Content-Type, body) of one request, with only the headers given."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def bodies(features):
    """What Batch Transform and users send, named; each entry: (body, what an error says)."""
    no_targets = features.drop(columns=TARGETS)
    return {
        "header, many rows": (features.to_csv(), None),
        "header, one row": (features.iloc[:1].to_csv(), None),
        "no header, many rows": (features.to_csv(header=False), None),
        "no header, one row": (features.iloc[:1].to_csv(header=False), None),
        "no header, no targets": (no_targets.iloc[:3].to_csv(header=False), None),
        "header only": (features.iloc[:0].to_csv(), None),
        "empty": ("", "empty"),
        "header, a column missing": (no_targets.iloc[:2, :-1].to_csv(), "lack 1 column"),
        "no header, a column missing": (
            no_targets.iloc[:2, :-1].to_csv(header=False), "features"),
    }


CONTENT_TYPES = ["text/csv", "text/csv; charset=utf-8", "application/json", None]
ACCEPTS = ["text/csv", "application/json", None, "*/*", "text/plain"]


def test_invocations_match_the_toolkit(toolkit, ours, features):
    answered = 0
    for name, (body, error_says) in bodies(features).items():
        for content_type in CONTENT_TYPES:
            for accept in ACCEPTS:
                headers = {k: v for k, v in [("Content-Type", content_type), ("Accept", accept)]
                           if v is not None}
                case = f"{name!r}, {headers}"
                theirs = ask(toolkit, "POST", "/invocations", body.encode(), headers)
                mine = ask(ours, "POST", "/invocations", body.encode(), headers)
                assert mine[0] == theirs[0], f"{case}: status {mine[0]}, toolkit {theirs[0]}"
                if theirs[0] == 200:
                    assert mine[1:] == theirs[1:], case
                    answered += 1
                    continue
                assert theirs[0] == 500 and GENERIC_PAGE[500] in theirs[2], case
                if content_type == "application/json" or content_type is None:
                    expected = "unsupported content type 'application/json'"
                elif error_says:
                    expected = error_says
                else:
                    expected = "unsupported Accept 'text/plain'"
                assert expected and expected in mine[2].decode(), f"{case}: {mine[2]!r}"
    # 6 kinds of CSV body x 2 CSV content types x 4 Accepts succeed on both
    assert answered == 6 * 2 * 4


def test_success_bodies_are_what_the_container_encodes(ours, features, base_dir):
    """Independent of both servers: CSV rows of repr'd floats with '\\n', or a JSON list."""
    predicted = joblib.load(base_dir / "model" / "model.joblib").predict(features)
    body = features.to_csv().encode()
    csv_body = ask(ours, "POST", "/invocations", body, {"Content-Type": "text/csv",
                                                       "Accept": "text/csv"})[2]
    assert csv_body.decode() == "".join(
        ",".join(repr(float(v)) for v in row) + "\n" for row in predicted)
    json_body = ask(ours, "POST", "/invocations", body, {"Content-Type": "text/csv"})[2]
    assert json.loads(json_body) == predicted.tolist()


@pytest.mark.parametrize("method, path, status, says", [
    ("GET", "/ping", 200, ""),
    ("GET", "/ping?probe=1", 200, ""),
    ("GET", "/invocations", 405, "use POST for /invocations"),
    ("POST", "/ping", 405, "use GET for /ping"),
    ("GET", "/no/such/path", 404, "no such path /no/such/path"),
    ("POST", "/no/such/path", 404, "no such path /no/such/path"),
])
def test_other_requests_match_the_toolkit(toolkit, ours, method, path, status, says):
    theirs = ask(toolkit, method, path, b"" if method == "POST" else None)
    mine = ask(ours, method, path, b"" if method == "POST" else None)
    assert (mine[0], theirs[0]) == (status, status)
    if status == 200:
        assert mine[2] == theirs[2] == b""
    else:
        assert GENERIC_PAGE[status] in theirs[2]
        assert says in mine[2].decode()


def test_a_failed_request_leaves_both_servers_serving(toolkit, ours, features):
    good = features.to_csv().encode()
    for port in (toolkit, ours):
        assert ask(port, "POST", "/invocations", b"1,2\n", {"Content-Type": "text/csv"})[0] == 500
        assert ask(port, "POST", "/invocations", good, {"Content-Type": "text/csv"})[0] == 200
        assert ask(port, "GET", "/ping")[0] == 200


def test_a_model_that_does_not_load_fails_ping_on_both(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(b"not a model")
    ours = serve.make_server(tmp_path / "model", port=0)
    thread = threading.Thread(target=ours.serve_forever, daemon=True)
    thread.start()
    try:
        with toolkit_server(tmp_path) as (port, status):
            assert status == 500
            mine = ask(ours.server_address[1], "GET", "/ping")
            assert mine[0] == 500 and b"model_fn(" in mine[2]
            body = b"1,2\n"
            assert ask(port, "POST", "/invocations", body, {"Content-Type": "text/csv"})[0] == 500
            mine = ask(ours.server_address[1], "POST", "/invocations", body,
                       {"Content-Type": "text/csv"})
            assert mine[0] == 500 and b"the model did not load" in mine[2]
    finally:
        ours.shutdown()
        ours.server_close()
