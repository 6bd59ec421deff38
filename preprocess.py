"""The Processing step: raw spectra and assays (CSV) -> model features (CSV).

Each spectrum is normalised by its maximum over channels [start:stop] (after clipping every
channel to that range's [min, max]), then summed in trailing windows of `window` channels,
sampled every `window` channels. The output has the metadata columns, the features, and the
targets when the input has them, in that order, one row per input row.

    python preprocess.py                                  # defaults below
    python preprocess.py --input my.csv.gz --output features.csv

This file imports nothing from the rest of the bundle: on SageMaker the Processing job sees it
alone. The rest of the bundle imports from it the column rule, the target list and the paths.
"""
import argparse
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("preprocess")

# ---- feature parameters (the reference solution's) ---------------------------------------
START, STOP, WINDOW = 0, -300, 7
CHUNK_ROWS = 2000  # rows per chunk when streaming a file: bounds memory, changes no output

# ---- columns -------------------------------------------------------------------------------
METADATA = ["SiteID", "DepthFrom", "DepthTo"]
TARGETS = (  # the challenge's 49 assays, in the challenge file's order
    "AgPPM AsPPM AuPPM BaPPM BiPPM CdPPM CoPPM CuPPM FePCT MnPPM MoPPM NiPPM PPCT PbPPM SPPM "
    "SbPPM SePPM SnPPM SrPPM TePPB ThPPB UPPB VPCT WPPM ZnPPM ZrPPM BePPM AlPPM CaPPM CePPM "
    "CrPPM CsPPM GaPPM GePPM HfPPM InPPM KPPM LaPPM LiPPM MgPPM NaPPM NbPPM RbPPM RePPM ScPPM "
    "TaPPM TiPPM TlPPM YPPM"
).split()
CHANNEL_NAME = re.compile(r"\d+(\.\d*)?$")  # ends in a number: 3799.0, wn_3799, X12

# ---- default paths: SageMaker's inside a container, the unearthed CLI's folders outside ----
ROOT = Path(__file__).resolve().parent
IN_CONTAINER = Path("/opt/ml").is_dir()
LOCAL = {  # the unearthed CLI mounts these repo folders at these container paths
    "/opt/ml/processing/input/public": "data/public",
    "/opt/ml/input/data/training": "data/public",
    "/opt/ml/processing/output/preprocess": "data/preprocess",
    "/opt/ml/model": "model",
    "/opt/ml/output": "data/predictions",
    "/opt/ml/processing/input/predictions": "data/predictions",
    "/opt/ml/processing/output/scores": "data/scores",
}


def sm_path(container_path, env=None):
    """A SageMaker path, or the repo folder the unearthed CLI mounts there when run locally.

    `env` names an environment variable (SM_MODEL_DIR, ...) that overrides both.
    """
    if env and os.environ.get(env):
        return Path(os.environ[env])
    if IN_CONTAINER:
        return Path(container_path)
    for prefix, folder in LOCAL.items():
        if container_path == prefix or container_path.startswith(prefix + "/"):
            return ROOT / folder / container_path[len(prefix) :].lstrip("/")
    raise KeyError(f"no local folder for {container_path}")


INPUT = sm_path("/opt/ml/processing/input/public/public.csv.gz")
OUTPUT = sm_path("/opt/ml/processing/output/preprocess/public.csv")


def split_columns(columns, targets=None):
    """Classify columns into (metadata, spectra, targets), keeping the file's order.

    The rule: metadata are SiteID, DepthFrom, DepthTo. Targets are the explicit `targets` list
    when given; otherwise every other column whose name does not end in a number (the 49
    challenge assays, or yours, such as ClayPCT). Spectral channels are the remaining columns,
    which without an explicit list are those named by a number (a wavenumber or channel index).
    """
    columns = [str(c) for c in columns]
    meta = [c for c in columns if c in METADATA]
    if targets is None:
        targets = [c for c in columns if c not in METADATA and not CHANNEL_NAME.search(c)]
    else:
        missing = [t for t in targets if t not in columns]
        if missing:
            raise ValueError(f"target columns {missing} are not in the file")
        targets = [c for c in columns if c in set(targets)]
    spectra = [c for c in columns if c not in METADATA and c not in set(targets)]
    if not spectra:
        raise ValueError(
            "no spectral columns found: name them by wavenumber or channel number "
            f"(the columns are {columns[:5]}{'...' if len(columns) > 5 else ''}), or list the "
            "targets explicitly so that every other column is a spectrum"
        )
    return meta, spectra, targets


def window_features(spectra, start=START, stop=STOP, window=WINDOW, rows=None):
    """Normalised window sums of an (n_rows, n_channels) array.

    Returns (features, channels): feature k sums channels max(0, k*w-w+1) .. k*w and is named
    after channel k*w, which `channels` lists. `rows` names the rows in error messages.
    """
    x = np.asarray(spectra, dtype=float)
    n, m = x.shape
    if len(range(m)[start:stop]) == 0:
        raise ValueError(
            f"{m} spectral channels are too few for the normalisation range [{start}:{stop}]"
        )
    part = x[:, start:stop]
    hi, lo = part.max(axis=1), part.min(axis=1)
    bad = ~np.isfinite(hi) | ~np.isfinite(lo) | (hi <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        row = rows[i] if rows is not None else i
        raise ValueError(
            f"row {row!r}: the spectrum's maximum over channels [{start}:{stop}] is {hi[i]!r}; "
            "normalisation needs a finite maximum above 0"
        )
    x = np.clip(x, lo[:, None], hi[:, None]) / hi[:, None]
    k = (m - 1) // window  # features 1..k are whole windows over channels 1..k*w
    sums = x[:, 1 : k * window + 1].reshape(n, k, window).sum(axis=2)
    return np.column_stack([x[:, 0], sums]), np.arange(k + 1) * window


def read_chunks(data_file, chunksize=CHUNK_ROWS):
    """The raw CSV (index in column 0, then metadata, spectra, targets) in frames of rows."""
    with pd.read_csv(data_file, index_col=0, chunksize=chunksize) as reader:
        yield from reader


def read_raw(data_file):
    """The whole raw CSV as one frame."""
    return pd.concat(read_chunks(data_file))


def preprocess(data_file, start=START, stop=STOP, window=WINDOW, targets=None):
    """Features of a raw file (or frame): metadata, window features, then targets if present."""
    df = data_file if isinstance(data_file, pd.DataFrame) else read_raw(data_file)
    meta, spectra, targets = split_columns(df.columns, targets)
    values, channels = window_features(
        df[spectra].to_numpy(dtype=float), start, stop, window, rows=df.index
    )
    features = pd.DataFrame(values, index=df.index, columns=[spectra[c] for c in channels])
    return pd.concat([df[meta], features, df[targets]], axis=1)


def csv_text(frame, header=True):
    """`frame.to_csv(header=header)`, the same text, about twice as fast for float columns.

    Floats are written as repr writes them, the shortest text that reads back to the same
    float (as pandas writes them too), so the feature file keeps full precision. A frame with
    columns or an index that need CSV quoting goes through pandas.
    """
    index = frame.index.tolist()
    kinds = [dtype.kind for dtype in frame.dtypes]
    if any(kind not in "fiu" for kind in kinds):
        return frame.to_csv(header=header)
    columns = [None] * len(kinds)
    for kind, write in (("f", repr), ("i", str), ("u", str)):
        where = [j for j, k in enumerate(kinds) if k == kind]
        block = frame.iloc[:, where].to_numpy()  # one array per dtype: columns by position
        for j, values in zip(where, block.T):
            text = list(map(write, values.tolist()))
            if kind == "f":
                for i in np.flatnonzero(np.isnan(values)).tolist():
                    text[i] = ""  # pandas' na_rep
            columns[j] = text
    if frame.index.dtype.kind not in "iuf" and any(_NEEDS_QUOTES.search(str(v)) for v in index):
        return frame.to_csv(header=header)
    lines = map(",".join, zip(map(str, index), *columns))
    head = frame.iloc[:0].to_csv() if header else ""
    return head + "\n".join(lines) + ("\n" if len(frame) else "")


_NEEDS_QUOTES = re.compile(r'[,"\r\n]|^$')


def write_features(data_file, output, chunksize=CHUNK_ROWS, **params):
    """Stream `data_file` through `preprocess` chunk by chunk into `output`, atomically."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    rows = 0
    try:
        with open(tmp, "w", newline="") as out:
            for i, chunk in enumerate(read_chunks(data_file, chunksize)):
                features = preprocess(chunk, **params)
                out.write(csv_text(features, header=i == 0))
                rows += len(features)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=INPUT, help="raw CSV (may be gzipped)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="feature CSV to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    log.info("reading %s", args.input)
    rows = write_features(args.input, args.output)
    log.info("wrote %d rows to %s", rows, args.output)


if __name__ == "__main__":
    main()
