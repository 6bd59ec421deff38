"""A local model server that answers as the SageMaker scikit-learn container does.

It loads the model with `train.model_fn` and serves:
  GET  /ping         200 with an empty body once the model has loaded, 500 if loading failed
  POST /invocations  input_fn(body, content_type) -> predict_fn -> output_fn(prediction, accept)
with the container's defaults for the hooks `train.py` does not define (predict_fn calls
model.predict; output_fn writes CSV rows or a JSON list). Headers are read as the serving
toolkit reads them: no Content-Type means application/json, no Accept (or */*) means
application/json, and only text/csv and application/json exactly reach input_fn as text, any
other type (text/csv; charset=utf-8) as bytes; tests/test_toolkit.py checks the two agree.
Any error in a hook is a 500 whose body says what went wrong; a body over --max_mb is
refused with 413 before it is read.

    python serve.py --model_dir model --port 8080
    curl -s --data-binary @data/preprocess/public.csv -H 'Content-Type: text/csv' \\
         -H 'Accept: text/csv' http://127.0.0.1:8080/invocations
"""
import argparse
import io
import json
import logging
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

import train

log = logging.getLogger("serve")

HOST, PORT = "127.0.0.1", 8080
MAX_MB = 100  # Batch Transform's largest MaxPayloadInMB
NOT_FOUND = "no such path {}: the server answers GET /ping and POST /invocations"
TEXT_TYPES = ("text/csv", "application/json")  # bodies the toolkit decodes to text


def default_predict_fn(data, model):
    return model.predict(data)


def default_output_fn(prediction, accept):
    """The container's encoders: CSV one row per line, or a JSON list."""
    if accept == "text/csv":
        out = io.StringIO()
        np.savetxt(out, np.asarray(prediction), delimiter=",", fmt="%s")
        return out.getvalue(), "text/csv"
    if accept == "application/json":
        return json.dumps(np.asarray(prediction).tolist()), "application/json"
    raise ValueError(f"unsupported Accept {accept!r}: ask for text/csv or application/json")


class ModelHandler(BaseHTTPRequestHandler):
    server_version = "re-core"
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/ping":
            if self.server.model is None:
                return self._reply(500, self.server.load_error)
            return self._reply(200, "")
        if path == "/invocations":
            return self._reply(405, "use POST for /invocations")
        self._reply(404, NOT_FOUND.format(path))

    def do_POST(self):
        path = urlsplit(self.path).path
        if path == "/ping":
            return self._reply(405, "use GET for /ping")
        if path != "/invocations":
            return self._reply(404, NOT_FOUND.format(path))
        body = self._read_body()
        if body is None:
            return
        # the toolkit's defaults: no Content-Type means JSON, no Accept (or */*) means JSON,
        # and only the exact types text/csv and application/json reach input_fn as text
        content_type = (self.headers.get("ContentType") or self.headers.get("Content-Type")
                        or "application/json")
        accept = self.headers.get("Accept") or "application/json"
        if accept == "*/*":
            accept = "application/json"
        try:
            if self.server.model is None:
                raise RuntimeError(f"the model did not load: {self.server.load_error}")
            if content_type in TEXT_TYPES:
                body = body.decode("utf-8", errors="replace")
            data = self.server.input_fn(body, content_type)
            prediction = self.server.predict_fn(data, self.server.model)
            payload, media_type = self.server.output_fn(prediction, accept)
        except Exception as error:  # the container answers 500 for any error in a hook
            log.error("invocation failed:\n%s", traceback.format_exc())
            return self._reply(500, f"{type(error).__name__}: {error}")
        self._reply(200, payload, media_type)

    def _read_body(self):
        """The request body, or None after refusing it (413 before reading a word of it)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return self._reply(411, "send the body with a Content-Length header, not chunked")
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            return self._reply(400, f"bad Content-Length {self.headers['Content-Length']!r}")
        if length > self.server.max_bytes:
            self.close_connection = True
            return self._reply(
                413, f"request body of {length} bytes is over the limit of "
                f"{self.server.max_bytes} bytes (serve.py --max_mb): send fewer rows per request"
            )
        return self.rfile.read(length)

    def _reply(self, status, body, media_type="text/plain"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        if media_type.startswith("text/"):  # as Flask labels text
            media_type += "; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        log.debug("%s " + format, self.address_string(), *args)


def make_server(model_dir, host=HOST, port=PORT, max_mb=MAX_MB):
    """A server bound to host:port (0 picks a free port) that serves the model in model_dir."""
    server = ThreadingHTTPServer((host, port), ModelHandler)
    server.max_bytes = int(max_mb * 1024 * 1024)
    server.input_fn = train.input_fn
    server.predict_fn = getattr(train, "predict_fn", default_predict_fn)
    server.output_fn = getattr(train, "output_fn", default_output_fn)
    server.model, server.load_error = None, ""
    try:
        server.model = train.model_fn(model_dir)
    except Exception as error:
        server.load_error = f"model_fn({str(model_dir)!r}) failed: {type(error).__name__}: {error}"
        log.error(server.load_error)
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_dir", type=Path, default=train.MODEL_DIR)
    parser.add_argument("--host", default=HOST, help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--max_mb", type=float, default=MAX_MB, help="largest request body")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    server = make_server(args.model_dir, args.host, args.port, args.max_mb)
    host, port = server.server_address[:2]
    print(f"serving {args.model_dir} on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
