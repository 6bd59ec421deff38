"""Fuzz the model server: random and malformed requests, bounded by count and time.

`serve.py` is started as a user starts it (its CLI, default host), with a small model. It
must keep answering, never answer 200 with a number of rows other than the body's, never
answer 200 to a body over its size limit, and never run anything a request carries.
"""
import http.client
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, raw_frame
from mdl import ClippedRidgeCV
from preprocess import preprocess, split_columns
from train import save_model

MAX_REQUESTS, MAX_SECONDS = 300, 20  # the bound: whichever comes first
MAX_MB = 0.05
LINE_END = re.compile(r"\r\n|\r|\n")


class Evil:
    """A pickle that creates a file when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    data = preprocess(raw_frame(rows=30, channels=400))
    _, _, targets = split_columns(data.columns)
    features = data.drop(columns=targets)
    model = ClippedRidgeCV().fit(features, data[targets])
    save_model(model, folder / "model")
    with open(folder / "serve.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "serve.py"), "--model_dir", str(folder / "model"),
             "--port", "0", "--max_mb", str(MAX_MB)],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
        )
        try:
            url = process.stdout.readline().split()[-1]
            host, port = url.removeprefix("http://").split(":")
            yield process, host, int(port), model, data, folder
        finally:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()


def post(host, port, body, headers):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raw_request(host, port, data):
    """Send bytes as they are, close our side, and return the status line (or b'')."""
    with socket.create_connection((host, port), timeout=30) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before reading all we sent
            pass
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply.split(b"\r\n", 1)[0]


def rows_in(body):
    """The rows a CSV body holds: its non-blank lines, less the header (empty first field)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    lines = [line for line in LINE_END.split(text) if line.strip()]
    return len(lines) - bool(lines and lines[0].startswith(","))


def answered_rows(payload, accept):
    if accept == "text/csv":
        return len([line for line in payload.decode().split("\n") if line])
    return len(json.loads(payload))


def mutate(body, rng):
    """One random edit of a CSV body: the kind of damage files and transfers do."""
    data = bytearray(body)
    at = int(rng.integers(0, len(data)))
    kind = rng.integers(0, 9)
    if kind == 0:
        del data[at]
    elif kind == 1:
        data.insert(at, int(rng.integers(0, 256)))
    elif kind == 2:
        data[at] = ord(rng.choice(list(',;"\n\r\t .-eE+x')))
    elif kind == 3:
        data = data[:at]
    elif kind == 4:
        data = data.replace(b",", b";")
    elif kind == 5:
        lines = bytes(data).split(b"\n")
        i = int(rng.integers(0, len(lines)))
        lines.insert(i, lines[i])
        data = b"\n".join(lines)
    elif kind == 6:
        data[at:at] = b"\n\n"
    elif kind == 7:
        data[at:at] = rng.choice([b"nan", b"inf", b"1e999", b"\x00", b"\xff\xfe", b'"'])
    else:
        data = data.replace(b"\n", b"\r\n")
    return bytes(data)


def test_server_survives_random_and_malformed_requests(server):
    process, host, port, model, data, folder = server
    assert host == "127.0.0.1"
    rng = np.random.default_rng(2026)
    marker = folder / "evaluated"
    features = data.drop(columns=["CuPPM", "AuPPM"])
    attacks = [
        f"__import__('os').system('touch {marker}')".encode(),
        pickle.dumps(Evil(marker)),
        f",=cmd|' /C touch {marker}'!A0\n".encode(),
        json.dumps({"__class__": "os.system", "args": [f"touch {marker}"]}).encode(),
    ]
    sent = dict.fromkeys(["valid", "mutated", "garbage", "oversize"], 0)
    start = time.monotonic()
    for n in range(MAX_REQUESTS):
        if time.monotonic() - start > MAX_SECONDS:
            break
        rows = rng.choice(len(features), size=int(rng.integers(1, 12)))
        header = bool(rng.integers(0, 2))
        valid = features.iloc[rows].to_csv(header=header).encode()
        accept = str(rng.choice(["text/csv", "application/json"]))
        content_type = "text/csv"
        kind = rng.choice(list(sent), p=[0.2, 0.5, 0.2, 0.1])
        if kind == "valid":
            body = valid
        elif kind == "mutated":
            body = mutate(valid, rng)
        elif kind == "garbage":
            body = (attacks[n % len(attacks)] if rng.integers(0, 2)
                    else rng.bytes(int(rng.integers(0, 2000))))
            content_type = str(rng.choice(["text/csv", "application/json",
                                           "application/x-npy", "application/octet-stream"]))
        else:
            body = valid * int(MAX_MB * 1024 * 1024 / len(valid) + 1)
        sent[kind] += 1
        status, payload = post(host, port, body, {"Content-Type": content_type,
                                                  "Accept": accept})
        assert status in (200, 413, 500), (status, body[:200])
        if kind == "valid":
            assert status == 200, payload
            np.testing.assert_allclose(
                np.array(json.loads(payload)) if accept == "application/json"
                else np.loadtxt(payload.decode().splitlines(), delimiter=",", ndmin=2),
                model.predict(features.iloc[rows]), rtol=1e-12)
        if kind == "oversize":
            assert status == 413
        if status == 200:
            assert answered_rows(payload, accept) == rows_in(body), body[:300]
    assert process.poll() is None, "the server died"
    print("requests sent:", sent)
    assert sum(sent.values()) >= 50 and sent["mutated"] > 0
    assert not marker.exists(), "the server ran code from a request"


HEAD = b"POST /invocations HTTP/1.1\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"


@pytest.mark.parametrize("length, body, status", [
    (b"-1", None, b" 400 "),  # a valid body: read to its end, past any limit, it would pass
    (b"many", b"1\n", b" 400 "),
    (b"500", b"1,2", b" 500 "),
    (None, b"BREW /coffee HTTP/1.1\r\n\r\n", b" 501 "),
    (None, b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n", b" 414 "),
    (None, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b" 400 "),  # a TLS hello
], ids=["negative length", "non-numeric length", "short body", "unknown method",
        "huge request line", "TLS hello"])
def test_server_survives_malformed_http(server, length, body, status):
    process, host, port, model, data, _ = server
    if body is None:
        body = data.drop(columns=["CuPPM", "AuPPM"]).to_csv(header=False).encode()
    request = HEAD + b"Content-Length: " + length + b"\r\n\r\n" + body if length else body
    status_line = raw_request(host, port, request)
    assert status in status_line, status_line
    assert process.poll() is None, "the server died"
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", "/ping")
    assert connection.getresponse().status == 200
    connection.close()
