"""serve.py refuses what it cannot take without reading it, and keeps serving."""
import http.client
import socket
import threading

import pytest

import serve
import train
from conftest import raw_frame
from mdl import ClippedRidgeCV
from preprocess import preprocess

TARGETS = ["CuPPM", "AuPPM"]


@pytest.fixture
def server(tmp_path):
    """serve.py's server in a thread, taking bodies of up to 0.01 MB (10485 bytes)."""
    features = preprocess(raw_frame(rows=10, channels=400, targets=TARGETS))
    model = ClippedRidgeCV().fit(features.drop(columns=TARGETS), features[TARGETS])
    train.save_model(model, tmp_path / "model")
    httpd = serve.make_server(tmp_path / "model", port=0, max_mb=0.01)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], features
    httpd.shutdown()
    httpd.server_close()


def raw_request(port, head):
    """Send a request's head, no body; return the response, up to the server's close.

    A server that waited for the whole body would neither answer nor close: a timeout here.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.replace(b"\n", b"\r\n") + b"\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer


def ping(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/ping")
    return connection.getresponse().status


def test_a_body_over_the_limit_gets_413_before_it_is_read(server):
    port, _ = server
    head = (b"POST /invocations HTTP/1.1\nHost: localhost\nContent-Type: text/csv\n"
            b"Content-Length: 50000000\n\n")
    answer = raw_request(port, head)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"request body of 50000000 bytes is over the limit of 10485 bytes" in answer
    assert ping(port) == 200


@pytest.mark.parametrize("header, status, says", [
    (b"Transfer-Encoding: chunked", 411, b"Content-Length"),
    (b"Content-Length: lots", 400, b"bad Content-Length 'lots'"),
])
def test_a_body_of_unknown_length_is_refused(server, header, status, says):
    port, _ = server
    head = b"POST /invocations HTTP/1.1\nHost: localhost\nContent-Type: text/csv\n" + header
    answer = raw_request(port, head + b"\n\n")
    assert answer.startswith(b"HTTP/1.1 %d " % status) and says in answer
    assert ping(port) == 200


def test_the_next_request_after_a_failure_succeeds(server):
    port, features = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    connection.request("POST", "/invocations", b"not,a,feature,row\n", headers)
    response = connection.getresponse()
    assert response.status == 500 and b"ValueError" in response.read()
    connection.request("POST", "/invocations", features.to_csv().encode(), headers)
    response = connection.getresponse()  # on the same connection, kept alive
    assert response.status == 200 and response.read().count(b"\n") == len(features)
