"""Replay the Batch Transform job locally: preprocess, serve the model, POST, write .out.

1. runs `preprocess.py` on the input file, as the Processing job does;
2. starts `serve.py` (the container's model server) on 127.0.0.1, on a free port, loading the
   model through `train.model_fn`, and waits for GET /ping;
3. POSTs the feature CSV as text/csv with Accept text/csv, as Batch Transform with SplitType
   None does, and writes the predictions to `<feature file name>.out` in the output folder;
4. stops the server, also when a step fails. The .out file is written only if every request
   succeeded, and atomically.

    python predict.py                      # data/public -> data/predictions/public.csv.out
    python predict.py --input my.csv.gz --model_dir model --output_dir out
"""
import argparse
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import preprocess
import train

log = logging.getLogger("predict")

ROOT = Path(__file__).resolve().parent
OUTPUT_DIR = preprocess.sm_path("/opt/ml/output")


class ModelServer:
    """`serve.py` in a child process, stopped on exit from the `with` block."""

    def __init__(self, model_dir, timeout=60):
        self.model_dir, self.timeout = model_dir, timeout

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "serve.py"), "--model_dir", str(self.model_dir),
             "--port", "0"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        try:
            line = self.process.stdout.readline()
            if not line.startswith("serving"):
                raise RuntimeError(f"the model server did not start (exit {self.process.wait()})")
            self.url = line.split()[-1]
            self._wait_ping()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ping(self):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=5):
                    return
            except urllib.error.HTTPError as error:
                raise RuntimeError(f"GET /ping: {error.code} {error.read().decode()}") from None
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def invoke(self, body, content_type="text/csv", accept="text/csv"):
        request = urllib.request.Request(
            self.url + "/invocations", data=body, method="POST",
            headers={"Content-Type": content_type, "Accept": accept},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"POST /invocations: {error.code} {error.read().decode(errors='replace')}"
            ) from None

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def batch_transform(features_file, model_dir, output_dir):
    """POST the whole feature file in one request (SplitType None) and write <name>.out."""
    body = Path(features_file).read_bytes()
    rows = body.count(b"\n") - 1  # the header line
    output = Path(output_dir) / (Path(features_file).name + ".out")
    with ModelServer(model_dir) as server:
        log.info("model server on %s; sending %d rows", server.url, rows)
        result = server.invoke(body)
    got = result.count(b"\n")
    if got != rows:
        raise RuntimeError(f"the model server answered {got} rows for {rows} rows sent")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(result)
    tmp.replace(output)
    log.info("wrote %d rows to %s", got, output)
    return output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=preprocess.INPUT, help="raw CSV")
    parser.add_argument("--features", type=Path, default=preprocess.OUTPUT,
                        help="feature CSV that preprocess writes and the job sends")
    parser.add_argument("--model_dir", type=Path, default=train.MODEL_DIR)
    parser.add_argument("--output_dir", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    subprocess.run(
        [sys.executable, str(ROOT / "preprocess.py"), "--input", str(args.input),
         "--output", str(args.features)],
        check=True,
    )
    batch_transform(args.features, args.model_dir, args.output_dir)


if __name__ == "__main__":
    main()
