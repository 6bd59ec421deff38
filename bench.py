"""Benchmark the bundle on synthetic data of the challenge's shape: print a table, and the targets.

For each size (a multiple of the challenge's 1,344 rows) it runs each step as its own process
and records its wall time and peak memory (RSS, of the step's largest process):
- prepare:    data/synthetic/prepare.py writes the raw CSV (the input, not a target);
- preprocess: preprocess.py, against pandas alone reading the raw file and writing a frame of
              the feature file's size at full precision (what any script would at least do);
- inside:     where preprocess's time goes: read (the file's bytes), parse (read_csv, in
              chunks), features (the recipe and the frame), write (the feature CSV);
- recipe:     window_features against the same recipe the pandas way (transpose, rolling, every
              7th column), chunk by chunk on the same in-memory frames;
- train:      (challenge size) ClippedRidgeCV against scikit-learn's RidgeCV with the reference
              settings: time, same alphas, coefficient differences;
- replay:     predict.batch_transform in each mode the installed predict.py offers (SplitType
              None; Line + MultiRecord; Line + SingleRecord, which sends a row per request and so
              runs on the first SINGLE_ROWS rows only), against pandas alone parsing the same
              feature CSV. The server's start is timed apart and left out of the rate.

    python bench.py                          # 1x, 10x, 100x: up to 4 GB of temp files, ~20 min
    python bench.py --sizes 1 10             # quick: a few minutes
    python bench.py --json bench.json        # also write the results as JSON
    python bench.py --workdir /tmp/b --keep  # keep the generated files

Timings depend on the machine and on what else runs on it: the table starts with its cores,
load and BLAS threads. Files go to a temporary folder, removed at the end unless --keep.
"""
import argparse
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CHALLENGE_ROWS = 1344
SIZES = (1, 10, 100)
SINGLE_ROWS = 300  # rows replayed with SingleRecord: one HTTP request each
TARGETS = {  # the targets, as ratios measured in one run
    "recipe_speedup": 30.0,  # window_features at least 30x faster than the pandas way
    "preprocess_vs_pandas": 2.0,  # preprocess.py within 2x of pandas reading + writing
    "preprocess_rss_mb": 1024.0,  # on the 100x file
    "train_seconds": 1.0,  # the challenge shape
    "replay_vs_parse": 0.5,  # replay rows/s at least half of pandas' parse rate
}

log = logging.getLogger("bench")


# ---- the steps measured in child processes: each prints one JSON line ----------------------
def reference_recipe(spectra, start, stop, window):
    """The recipe the pandas way, as the reference solution computed it (DESIGN §3)."""
    part = spectra.iloc[:, start:stop]
    hi, lo = part.max(axis=1), part.min(axis=1)
    normed = spectra.clip(lower=lo, upper=hi, axis=0).div(hi, axis=0)
    return normed.T.rolling(window, min_periods=1).sum().T.iloc[:, ::window]


def child_pandas_baseline(raw, output):
    """pandas alone: read the raw file, write a frame of the feature file's shape and digits."""
    import numpy as np
    import pandas as pd

    from preprocess import WINDOW, split_columns

    t0 = time.perf_counter()
    df = pd.read_csv(raw, index_col=0)
    t1 = time.perf_counter()
    meta, spectra, targets = split_columns(df.columns)
    # full-precision floats, as many as the features: every 7th channel over a third
    values = pd.DataFrame(df[spectra].to_numpy()[:, ::WINDOW] / 3.0, index=df.index,
                          columns=spectra[::WINDOW])
    frame = pd.concat([df[meta], values, df[targets]], axis=1)
    del df
    t2 = time.perf_counter()
    frame.to_csv(output)
    t3 = time.perf_counter()
    return {"read": t1 - t0, "write": t3 - t2, "shape": list(frame.shape)}


def child_inside(raw, output):
    """preprocess's loop, timed by part, and the recipe against the pandas way per chunk."""
    import numpy as np

    import preprocess as pp

    times = dict.fromkeys(["read", "parse", "features", "write", "recipe", "recipe_pandas"], 0.0)
    t0 = time.perf_counter()
    with open(raw, "rb") as f:
        while f.read(1 << 24):
            pass
    times["read"] = time.perf_counter() - t0
    rows, worst = 0, 0.0
    with open(output, "w", newline="") as out:
        chunks = pp.read_chunks(raw)
        first = True
        while True:
            t0 = time.perf_counter()
            chunk = next(chunks, None)
            times["parse"] += time.perf_counter() - t0
            if chunk is None:
                break
            t0 = time.perf_counter()
            features = pp.preprocess(chunk)
            t1 = time.perf_counter()
            out.write(pp.csv_text(features, header=first))
            times["write"] += time.perf_counter() - t1
            times["features"] += t1 - t0
            first, rows = False, rows + len(chunk)

            _, spectra, _ = pp.split_columns(chunk.columns)
            frame = chunk[spectra]
            spectra_array = frame.to_numpy(dtype=float)
            # One call takes a few tens of ms, too short to time once on a shared machine: the
            # best of 3, as timeit reports (the pandas way takes seconds, timed once).
            best = min(timeit.repeat(lambda: pp.window_features(spectra_array), number=1,
                                     repeat=3))
            values, _ = pp.window_features(spectra_array)
            t1 = time.perf_counter()
            expected = reference_recipe(frame, pp.START, pp.STOP, pp.WINDOW)
            t2 = time.perf_counter()
            times["recipe"] += best
            times["recipe_pandas"] += t2 - t1
            worst = max(worst, float(np.abs(values - expected.to_numpy()).max()))
    return {**times, "rows": rows, "recipe_max_abs_diff": worst}


def child_train(features, model_dir):
    """Fit the challenge shape: ClippedRidgeCV against RidgeCV with the reference settings."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import RidgeCV
    from threadpoolctl import threadpool_info, threadpool_limits

    import train
    from mdl import ClippedRidgeCV
    from preprocess import split_columns

    data = pd.read_csv(features, index_col=0)
    _, _, targets = split_columns(data.columns)
    X, y = data.drop(columns=targets), data[targets]
    fits, cpus = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        model = ClippedRidgeCV().fit(X, y)
        fits.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)

    def reference():
        return RidgeCV(alphas=np.logspace(-5, 5, 50), scoring="r2", alpha_per_target=True)

    t0 = time.perf_counter()
    ref = reference().fit(X, y)  # as a user runs it: the default BLAS threads
    ref_seconds = time.perf_counter() - t0
    with threadpool_limits(limits=1, user_api="blas"):
        ref1 = reference().fit(X, y)  # the same arithmetic as the model's fit

    def coef_diff(a, b):
        return float(np.abs(a.coef_ - b.coef_).max() / np.abs(b.coef_).max())

    train.save_model(model, model_dir)
    return {
        "rows": len(X), "features": X.shape[1], "targets": len(targets),
        "fit": min(fits), "fits": fits, "fit_cpu": min(cpus), "reference_fit": ref_seconds,
        "same_alphas": bool(np.array_equal(model.alpha_, ref.alpha_)),
        "same_alphas_1thread": bool(np.array_equal(model.alpha_, ref1.alpha_)),
        "coef_rel_diff": coef_diff(model, ref), "coef_rel_diff_1thread": coef_diff(model, ref1),
        "blas": [(i["internal_api"], i["num_threads"]) for i in threadpool_info()],
    }


def child_parse(features):
    """pandas alone parsing the feature CSV."""
    import pandas as pd

    t0 = time.perf_counter()
    frame = pd.read_csv(features, index_col=0)
    return {"parse": time.perf_counter() - t0, "rows": len(frame)}


def child_replay(features, model_dir, output_dir, split_type, batch_strategy):
    """One Batch Transform replay, with the model server's start and stop timed apart."""
    import resource

    import predict
    import serve

    overhead = []  # the server's start and stop, inside batch_transform
    for hook in ("__enter__", "__exit__"):
        def timed(self, *exc, _original=getattr(predict.ModelServer, hook)):
            t0 = time.perf_counter()
            try:
                return _original(self, *exc)
            finally:
                overhead.append(time.perf_counter() - t0)
        setattr(predict.ModelServer, hook, timed)
    kwargs = {}
    if split_type != "-":
        kwargs = {"split_type": split_type, "batch_strategy": batch_strategy}
    if split_type == "None" and "max_payload_mb" in inspect.signature(
            predict.batch_transform).parameters:
        kwargs["max_payload_mb"] = serve.MAX_MB  # the whole file in one request: the largest
    t0 = time.perf_counter()
    out = predict.batch_transform(features, model_dir, output_dir, **kwargs)
    total = time.perf_counter() - t0
    rows = Path(out).read_bytes().count(b"\n")
    server_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # the server's hooks on the whole file, in this process: where a request's time goes
    import train

    model = train.model_fn(model_dir)
    t0 = time.perf_counter()
    data = train.input_fn(Path(features).read_text(), "text/csv")
    t1 = time.perf_counter()
    prediction = getattr(train, "predict_fn", serve.default_predict_fn)(data, model)
    t2 = time.perf_counter()
    getattr(train, "output_fn", serve.default_output_fn)(prediction, "text/csv")
    t3 = time.perf_counter()
    return {"start": sum(overhead), "total": total, "rows": rows, "server_rss_mb": server_mb,
            "input_fn": t1 - t0, "predict_fn": t2 - t1, "output_fn": t3 - t2}


CHILDREN = {f.__name__[6:]: f for f in [child_pandas_baseline, child_inside, child_train,
                                         child_parse, child_replay]}


# ---- the parent: runs each step as a process, times it, reads its peak RSS -----------------
def run(argv, name):
    """Run a command: (seconds, peak RSS in MB of its largest process, the JSON it printed).

    The CPU seconds it used (with its children's) go into the JSON as "cpu": on a busy machine
    they move less than wall time does.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - t0
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
        if process.returncode:
            err.seek(0)
            raise RuntimeError(f"{name} failed (exit {process.returncode}):\n"
                               f"{err.read().decode(errors='replace')[-3000:]}")
    lines = stdout.decode().strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    result["cpu"] = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024, result


def run_child(name, *args):
    return run([sys.executable, str(ROOT / "bench.py"), "--child", name, *map(str, args)], name)


def replay_modes():
    """The (SplitType, BatchStrategy) pairs the installed predict.batch_transform takes."""
    import predict

    params = inspect.signature(predict.batch_transform).parameters
    if {"split_type", "batch_strategy"} <= set(params):
        return [("None", "MultiRecord"), ("Line", "MultiRecord"), ("Line", "SingleRecord")]
    return [("-", "-")]  # before Batch Transform modes: one request with the whole file


def head_file(source, dest, rows):
    """The header and first `rows` lines of a CSV."""
    with open(source, "rb") as src, open(dest, "wb") as out:
        for _ in range(rows + 1):
            out.write(src.readline())
    return dest


def bench_size(size, workdir, model_dir, results):
    rows = CHALLENGE_ROWS * size
    folder = workdir / f"x{size}"
    folder.mkdir(parents=True, exist_ok=True)
    raw, features = folder / "raw.csv", folder / "features.csv"

    def record(step, seconds, rss, n=rows, nbytes=None, **extra):
        row = {"size": size, "rows": rows, "step": step, "seconds": seconds,
               "rows_per_s": n / seconds if seconds else None,
               "mb_per_s": nbytes / 1e6 / seconds if nbytes and seconds else None,
               "rss_mb": rss, "cpu": None, **extra}
        results.append(row)
        log.info("%4dx %-28s %8.2f s  %s", size, step, seconds,
                 f"{rss:7.0f} MB" if rss is not None else "")
        return row

    seconds, rss, got = run([sys.executable, "data/synthetic/prepare.py", "--rows", str(rows),
                             "--output", str(raw)], "prepare")
    raw_bytes = raw.stat().st_size
    record("prepare (synthetic raw)", seconds, rss, nbytes=raw_bytes, cpu=got["cpu"])

    seconds, rss, got = run([sys.executable, "preprocess.py", "--input", str(raw),
                             "--output", str(features)], "preprocess.py")
    pre = record("preprocess.py", seconds, rss, nbytes=raw_bytes, cpu=got["cpu"],
                 features_mb=features.stat().st_size / 1e6)

    base_out = folder / "pandas.csv"
    seconds, rss, got = run_child("pandas_baseline", raw, base_out)
    # a process, as preprocess.py is: both pay for starting Python and importing pandas
    base = record("pandas read + write", seconds, rss, nbytes=raw_bytes, cpu=got["cpu"],
                  read=got["read"], write=got["write"],
                  output_mb=base_out.stat().st_size / 1e6)
    base_out.unlink()
    pre["vs_pandas"] = pre["seconds"] / base["seconds"]

    inside_out = folder / "inside.csv"
    seconds, rss, got = run_child("inside", raw, inside_out)
    inside_out.unlink()
    for part in ["read", "parse", "features", "write"]:
        record(f"  preprocess: {part}", got[part], None, nbytes=raw_bytes)
    record("recipe: window_features", got["recipe"], None)
    record("recipe: pandas way", got["recipe_pandas"], None,
           speedup=got["recipe_pandas"] / got["recipe"],
           max_abs_diff=got["recipe_max_abs_diff"])

    if size == 1:
        seconds, rss, got = run_child("train", features, model_dir)
        record("train: ClippedRidgeCV.fit", got["fit"], rss, cpu=got["fit_cpu"], **{
            k: v for k, v in got.items() if k not in ("fit", "rows", "cpu", "fit_cpu")})

    seconds, rss, got = run_child("parse", features)
    parse = record("pandas parse features", got["parse"], rss, cpu=got["cpu"],
                   nbytes=features.stat().st_size)
    import serve

    for split_type, strategy in replay_modes():
        source, n = features, rows
        if strategy == "SingleRecord" and rows > SINGLE_ROWS:
            source, n = head_file(features, folder / "head.csv", SINGLE_ROWS), SINGLE_ROWS
        label = ("replay" if split_type == "-" else f"replay {split_type}+{strategy}"
                 ) + ("" if n == rows else f" ({n} rows)")
        if split_type in ("-", "None") and source.stat().st_size > serve.MAX_MB * 2**20:
            results.append({"size": size, "rows": rows, "step": label, "skipped":
                            f"the file is over the {serve.MAX_MB} MB payload limit"})
            continue
        seconds, rss, got = run_child("replay", source, model_dir, folder / "out",
                                      split_type, strategy)
        if got["rows"] != n:
            raise RuntimeError(f"{label}: {got['rows']} predictions for {n} rows")
        requests = got["total"] - got["start"]
        record(label, requests, rss, n=n, nbytes=source.stat().st_size, cpu=got["cpu"],
               server_start=got["start"], with_start_rows_per_s=n / got["total"],
               server_rss_mb=got["server_rss_mb"],
               hooks={k: got[k] for k in ("input_fn", "predict_fn", "output_fn")},
               vs_parse=(n / requests) / parse["rows_per_s"])


def machine():
    import numpy as np  # noqa: F401  (loads BLAS for threadpool_info)
    from threadpoolctl import threadpool_info

    return {
        "cores": os.cpu_count(), "load_1min": os.getloadavg()[0],
        "blas": [f"{i['internal_api']} {i.get('architecture')} {i['num_threads']} threads"
                 for i in threadpool_info()],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "python": sys.version.split()[0],
    }


def table(results, context):
    lines = [
        f"machine: {context['cores']} cores, load {context['load_1min']:.2f} at start, "
        f"{context['load_end']:.2f} at end; BLAS: {', '.join(context['blas'])}; "
        f"OPENBLAS_CORETYPE={context['OPENBLAS_CORETYPE']}; Python {context['python']}",
        "",
        f"| {'size':>5} | {'step':<38} | {'seconds':>8} | {'CPU s':>7} | {'rows/s':>9} "
        f"| {'MB/s':>6} | {'peak RSS MB':>11} | note |",
        f"|{'-' * 7}|{'-' * 40}|{'-' * 10}|{'-' * 9}|{'-' * 11}|{'-' * 8}|{'-' * 13}|------|",
    ]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['size']:>4}x | {r['step']:<38} | {'':>8} | {'':>7} | {'':>9} "
                         f"| {'':>6} "
                         f"| {'':>11} | skipped: {r['skipped']} |")
            continue
        note = []
        if "vs_pandas" in r:
            note.append(f"{r['vs_pandas']:.2f}x pandas' time")
        if "read" in r:
            note.append(f"read {r['read']:.2f} s + write {r['write']:.2f} s")
        if "speedup" in r:
            note.append(f"window_features {r['speedup']:.0f}x faster")
        if "vs_parse" in r:
            note.append(f"{r['vs_parse']:.0%} of parse rate; server start "
                        f"+ stop {r['server_start']:.2f} s (with them: {r['with_start_rows_per_s']:,.0f} "
                        f"rows/s); server RSS {r['server_rss_mb']:.0f} MB; on the whole file "
                        + ", ".join(f"{k} {v:.2f} s" for k, v in r["hooks"].items()))
        if "same_alphas" in r:
            note.append(f"reference fit {r['reference_fit']:.2f} s; same alphas "
                        f"{r['same_alphas_1thread']} (1 BLAS thread) / {r['same_alphas']} "
                        f"(default); coef rel. diff {r['coef_rel_diff_1thread']:.1e} / "
                        f"{r['coef_rel_diff']:.1e}")
        rate = f"{r['rows_per_s']:,.0f}" if r.get("rows_per_s") else ""
        mbs = f"{r['mb_per_s']:.1f}" if r.get("mb_per_s") else ""
        rss = f"{r['rss_mb']:,.0f}" if r.get("rss_mb") is not None else ""
        cpu = f"{r['cpu']:.2f}" if r.get("cpu") is not None else ""
        lines.append(f"| {r['size']:>4}x | {r['step']:<38} | {r['seconds']:8.3f} | {cpu:>7} "
                     f"| {rate:>9} "
                     f"| {mbs:>6} | {rss:>11} | {'; '.join(note)} |")
    return "\n".join(lines)


def verdicts(results):
    """Each target: the measured ratio and whether it is met."""
    out = []

    def check(name, value, ok, text):
        out.append({"target": name, "value": value, "met": bool(ok), "text": text})

    for r in results:
        step, size = r["step"], r["size"]
        if "speedup" in r:
            check("recipe_speedup", r["speedup"], r["speedup"] >= TARGETS["recipe_speedup"],
                  f"{size}x: recipe {r['speedup']:.0f}x faster than pandas (target >= 30x)")
        if "vs_pandas" in r:
            check("preprocess_vs_pandas", r["vs_pandas"],
                  r["vs_pandas"] <= TARGETS["preprocess_vs_pandas"],
                  f"{size}x: preprocess.py takes {r['vs_pandas']:.2f}x pandas' read+write "
                  "(target <= 2x)")
        if step == "preprocess.py" and size == 100:
            check("preprocess_rss_mb", r["rss_mb"], r["rss_mb"] < TARGETS["preprocess_rss_mb"],
                  f"100x: preprocess.py peak RSS {r['rss_mb']:.0f} MB (target < 1024 MB)")
        if "same_alphas" in r:
            ok = r["seconds"] < TARGETS["train_seconds"] and r["same_alphas_1thread"]
            check("train_seconds", r["seconds"], ok and r["coef_rel_diff_1thread"] <= 1e-9,
                  f"train fit {r['seconds']:.2f} s (target < 1 s), same alphas, coefficients "
                  f"within {r['coef_rel_diff_1thread']:.0e} of the reference (target 1e-9)")
        if "vs_parse" in r:
            check("replay_vs_parse", r["vs_parse"],
                  r["vs_parse"] >= TARGETS["replay_vs_parse"],
                  f"{size}x {step}: {r['vs_parse']:.0%} of pandas' parse rate (target >= 50%)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="multiples of the challenge's 1,344 rows")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--workdir", type=Path, help="where the files go (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](*args.child[1:])))
        return
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="re-core-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    context, results = machine(), []
    sizes = sorted(set(args.sizes) | {1})  # the model is trained on the challenge size
    try:
        for size in sizes:
            bench_size(size, workdir, workdir / "model", results)
            if not args.keep:
                shutil.rmtree(workdir / f"x{size}", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    context["load_end"] = os.getloadavg()[0]
    print(table(results, context))
    print()
    checks = verdicts(results)
    for c in checks:
        print(f"{'met    ' if c['met'] else 'NOT MET'}  {c['text']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": context, "results": results,
                                         "targets": checks}, indent=1))


if __name__ == "__main__":
    main()
