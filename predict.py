"""Replay the Batch Transform job locally: preprocess, serve the model, POST, write .out.

1. runs `preprocess.py` on the input file, as the Processing job does;
2. starts `serve.py` (the container's model server) on 127.0.0.1, on a free port, loading the
   model through `train.model_fn`, and waits for GET /ping;
3. POSTs the feature CSV as text/csv with Accept text/csv, split into requests as Batch
   Transform splits it: SplitType None sends the whole file in one request; Line splits it
   into lines, which BatchStrategy MultiRecord packs up to MaxPayloadInMB per request and
   SingleRecord sends one per request; only the first request carries the header line;
4. writes the predictions, in input order, to `<feature file name>.out` in the output folder,
   only if every request succeeded, and atomically; stops the server, also when a step fails.
A request over MaxPayloadInMB is refused before anything is sent, as SageMaker refuses it.

    python predict.py                      # data/public -> data/predictions/public.csv.out
    python predict.py --input my.csv.gz --model_dir model --output_dir out
    python predict.py --split_type Line --batch_strategy MultiRecord --max_payload_mb 1
    python predict.py --limits             # the largest input each mode takes, then exit
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
import serve
import train

log = logging.getLogger("predict")

ROOT = Path(__file__).resolve().parent
OUTPUT_DIR = preprocess.sm_path("/opt/ml/output")
SPLIT_TYPES = ("None", "Line")
BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
MAX_PAYLOAD_MB = 6  # Batch Transform's default MaxPayloadInMB
LARGEST_PAYLOAD_MB = serve.MAX_MB  # and the most it allows, the server's body limit
MB = 1024 * 1024


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


def plan_requests(features_file, split_type="None", batch_strategy="MultiRecord",
                  max_payload_mb=MAX_PAYLOAD_MB):
    """The requests Batch Transform makes of the file: (start byte, end byte, first row, last row).

    Rows are the file's data rows, counted from 1 (the header line is row 0), so a request of
    the header line alone has first row 1 and last row 0. Refuses, before anything is sent, a
    file whose requests would not fit in max_payload_mb.
    """
    if split_type not in SPLIT_TYPES:
        raise ValueError(f"unknown SplitType {split_type!r}: use one of {SPLIT_TYPES}")
    if batch_strategy not in BATCH_STRATEGIES:
        raise ValueError(f"unknown BatchStrategy {batch_strategy!r}: use one of {BATCH_STRATEGIES}")
    if not 0 < max_payload_mb <= LARGEST_PAYLOAD_MB:
        raise ValueError(f"MaxPayloadInMB {max_payload_mb} is out of range: "
                         f"use more than 0 and at most {LARGEST_PAYLOAD_MB}")
    limit, path = int(max_payload_mb * MB), Path(features_file)
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path} is empty: run preprocess.py to write the feature file")
    if split_type == "None":
        if size > limit:
            raise ValueError(
                f"{path} is {size} bytes, over MaxPayloadInMB={max_payload_mb} ({limit} bytes) "
                f"for SplitType None, which sends the whole file in one request: use "
                f"--split_type Line, or raise --max_payload_mb (at most {LARGEST_PAYLOAD_MB})"
            )
        with open(path, "rb") as f:
            rows = sum(1 for _ in f) - 1
        return [(0, size, 1, rows)]
    plan, start, end, first, row = [], 0, 0, 1, -1
    with open(path, "rb") as f:
        for line in f:
            row += 1
            if len(line) > limit:
                raise ValueError(
                    f"row {row} of {path} is {len(line)} bytes, over MaxPayloadInMB="
                    f"{max_payload_mb} ({limit} bytes), the most one record may have: raise "
                    f"--max_payload_mb (at most {LARGEST_PAYLOAD_MB})"
                )
            full = batch_strategy == "SingleRecord" or end - start + len(line) > limit
            if end > start and full:
                plan.append((start, end, first, row - 1))
                start, first = end, row
            end += len(line)
    if end > start:
        plan.append((start, end, first, row))
    return plan


def batch_transform(features_file, model_dir, output_dir, split_type="None",
                    batch_strategy="MultiRecord", max_payload_mb=MAX_PAYLOAD_MB):
    """POST the feature file as Batch Transform does in the given mode and write <name>.out."""
    features_file = Path(features_file)
    output = Path(output_dir) / (features_file.name + ".out")
    output.unlink(missing_ok=True)  # a failed replay must not leave a previous one to be scored
    plan = plan_requests(features_file, split_type, batch_strategy, max_payload_mb)
    rows = plan[-1][3]
    with ModelServer(model_dir) as server:
        log.info("model server on %s; sending %d rows in %d request(s) (SplitType %s, "
                 "BatchStrategy %s, MaxPayloadInMB %s)", server.url, rows, len(plan),
                 split_type, batch_strategy, max_payload_mb)
        started = time.perf_counter()
        results = send_requests(server, features_file, plan)
        seconds = time.perf_counter() - started
    log.info("predicted %d rows in %.2f s: %.0f rows/s", rows, seconds, rows / seconds)
    with preprocess.atomic_output(output) as tmp, open(tmp, "wb") as out:
        out.writelines(results)
    log.info("wrote %d rows to %s", rows, output)
    return output


def send_requests(server, features_file, plan):
    """POST each planned request in order; its answer, checked to have a line per row sent."""
    results = []
    with open(features_file, "rb") as f:
        for number, (start, end, first, last) in enumerate(plan, 1):
            f.seek(start)
            where = f"request {number} of {len(plan)} (rows {first}–{last} of {features_file})"
            try:
                result = server.invoke(f.read(end - start))
            except (RuntimeError, OSError) as error:
                raise RuntimeError(f"{where} failed: {error}") from None
            got = result.count(b"\n")
            if got != last - first + 1:
                raise RuntimeError(f"{where}: the model server answered {got} rows for "
                                   f"{last - first + 1} rows sent")
            results.append(result)
    return results


def rows_per_second(features_file, model_dir, split_type="None", batch_strategy="MultiRecord",
                    max_payload_mb=MAX_PAYLOAD_MB):
    """The replay's throughput in one mode: rows predicted per second of requests (the
    server's start excluded), for benchmarks; writes nothing."""
    plan = plan_requests(features_file, split_type, batch_strategy, max_payload_mb)
    with ModelServer(model_dir) as server:
        started = time.perf_counter()
        send_requests(server, features_file, plan)
        return plan[-1][3] / (time.perf_counter() - started)


def largest_inputs(features_file, max_payload_mb=MAX_PAYLOAD_MB):
    """Per mode, the most rows of this file's shape one request takes, and the most per file."""
    with open(features_file, "rb") as f:
        header = len(f.readline())
        row_sizes = [len(line) for line in f]
    longest, limit = max(row_sizes), int(max_payload_mb * MB)
    per_request = (limit - header) // longest
    return {
        "SplitType None": (per_request, per_request),
        "SplitType Line, MultiRecord": (per_request, None),
        "SplitType Line, SingleRecord": (1, None),
    }, header, longest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=preprocess.INPUT, help="raw CSV")
    parser.add_argument("--features", type=Path, default=preprocess.OUTPUT,
                        help="where preprocess writes the feature CSV the job sends "
                        "(overwritten; default %(default)s)")
    parser.add_argument("--model_dir", type=Path, default=train.MODEL_DIR)
    parser.add_argument("--output_dir", type=Path, default=OUTPUT_DIR)
    parser.add_argument("--split_type", choices=SPLIT_TYPES, default="None",
                        help="None: the whole file in one request; Line: split into lines")
    parser.add_argument("--batch_strategy", choices=BATCH_STRATEGIES, default="MultiRecord",
                        help="with Line: as many lines as fit per request, or one")
    parser.add_argument("--max_payload_mb", type=payload_mb, default=MAX_PAYLOAD_MB,
                        metavar="1..100",
                        help="MaxPayloadInMB: the largest request body (default %(default)s)")
    parser.add_argument("--limits", action="store_true",
                        help="preprocess --input, print the largest input each mode takes for "
                        "its features, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    subprocess.run(
        [sys.executable, str(ROOT / "preprocess.py"), "--input", str(args.input),
         "--output", str(args.features)],
        check=True,
    )
    if args.limits:
        return print_limits(args.features)
    batch_transform(args.features, args.model_dir, args.output_dir, args.split_type,
                    args.batch_strategy, args.max_payload_mb)


def payload_mb(text):
    """MaxPayloadInMB as SageMaker takes it: a whole number of MB from 1 to 100."""
    if not text.isdigit() or not 1 <= int(text) <= LARGEST_PAYLOAD_MB:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of MB from 1 to {LARGEST_PAYLOAD_MB}"
        )
    return int(text)


def print_limits(features_file):
    for mb in sorted({MAX_PAYLOAD_MB, LARGEST_PAYLOAD_MB}):
        modes, header, longest = largest_inputs(features_file, mb)
        print(f"MaxPayloadInMB {mb}: {features_file} has a {header}-byte header and rows of up "
              f"to {longest} bytes")
        for mode, (per_request, per_file) in modes.items():
            print(f"  {mode:<30} {per_request:>7} row(s) per request, "
                  f"{per_file or 'any number of'} rows per file")


if __name__ == "__main__":
    main()
