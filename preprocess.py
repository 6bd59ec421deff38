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
import gzip
import logging
import os
import re
import sys
import zlib
from contextlib import contextmanager
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
# A number (3799.0, 12), or a prefix and a wavenumber of 3 or more digits (wn_3799, X3799.0);
# not an assay whose name ends in a digit (SiO2, Al2O3, Cu65).
CHANNEL_NAME = re.compile(r"^(?:\D*(?=\d{3})|)(?P<number>\d+(?:\.\d*)?)$")

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
    when given; otherwise every other column not named by a number (the 49 challenge assays,
    or yours, such as ClayPCT or SiO2). Spectral channels are the remaining columns, which
    without an explicit list are those named by a number: a wavenumber or channel index
    (3799.0, 12), possibly after a prefix when the number has 3 or more digits (wn_3799).
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
            f"{m} spectral channels are too few for the normalisation range [{start}:{stop}]: "
            "check that no spectral column was dropped, or pass a smaller stop"
        )
    part = x[:, start:stop]
    hi, lo = part.max(axis=1), part.min(axis=1)
    bad = ~np.isfinite(hi) | ~np.isfinite(lo) | (hi <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        row = rows[i] if rows is not None else i
        raise ValueError(
            f"row {row!r}: the spectrum's maximum over channels [{start}:{stop}] is "
            f"{float(hi[i])}, but normalisation needs a finite maximum above 0: remove the row "
            "or re-measure it"
        )
    x = np.clip(x, lo[:, None], hi[:, None]) / hi[:, None]
    k = (m - 1) // window  # features 1..k are whole windows over channels 1..k*w
    sums = x[:, 1 : k * window + 1].reshape(n, k, window).sum(axis=2)
    return np.column_stack([x[:, 0], sums]), np.arange(k + 1) * window


@contextmanager
def reading(data_file):
    """Turn the ways a file fails to parse into one sentence that names the file."""
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(
            f"{data_file} is truncated or not a valid compressed file ({error}): "
            "copy or export it again"
        ) from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{data_file} is not UTF-8 text (it has the byte {error.object[error.start]:#04x}): "
            "save it as CSV in UTF-8"
        ) from None
    except pd.errors.ParserError as error:
        raise ValueError(
            f"{data_file} is not a well-formed CSV file ({str(error).strip()}): give every line "
            "the header's number of fields"
        ) from None


def check_header(data_file):
    """Refuse a file that has no rows or whose header pandas would read wrongly.

    The header is read as text, because pandas silently renames a repeated column `x` to
    `x.1`, which the column rule would then take for a spectral channel.
    """
    with reading(data_file):
        try:
            head = pd.read_csv(data_file, header=None, nrows=2, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise ValueError(
                f"{data_file} is empty: it needs a header line and one line per sample"
            ) from None
    names = list(head.iloc[0])
    if len(names) < 2:
        separator = next((s for s in ";\t|" if s in names[0]), None)
        found = f" (its lines are separated by {separator!r})" if separator else ""
        raise ValueError(
            f"{data_file} has a single column{found}: write it with ',' between columns "
            "and '.' as the decimal point"
        )
    if names[0] in METADATA or _is_number(names[0]):
        raise ValueError(
            f"{data_file}: column 1 is {names[0]!r}, but column 1 must hold the sample ids: "
            "put an id column first"
        )
    for j, name in enumerate(names[1:], start=2):
        if not name.strip():
            raise ValueError(
                f"{data_file}: column {j} has no name in the header: name it or remove it "
                "(a ',' at the end of every line makes such a column)"
            )
        if names.count(name) > 1:
            raise ValueError(
                f"{data_file}: column {name!r} appears {names.count(name)} times in the "
                "header: give every column a unique name"
            )
    if len(head) < 2:
        raise ValueError(f"{data_file} has a header line but no rows: add one line per sample")
    return names


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_chunks(data_file, chunksize=CHUNK_ROWS):
    """The raw CSV (index in column 0, then metadata, spectra, targets) in frames of rows."""
    ids = {}
    if isinstance(data_file, (str, os.PathLike)):  # a stream would be read twice
        # Sample ids as written (007 stays 007), and of one type in every chunk; pandas calls
        # an unnamed first column "Unnamed: 0".
        ids = {check_header(data_file)[0] or "Unnamed: 0": str}
    with reading(data_file), pd.read_csv(data_file, index_col=0, chunksize=chunksize,
                                         dtype=ids) as reader:
        yield from reader


def read_raw(data_file):
    """The whole raw CSV as one frame."""
    return pd.concat(read_chunks(data_file))


def check_ids(index):
    """Every row needs a sample id: in the feature file, only the header line has none."""
    missing = index.isna() | (index.astype(str).str.strip() == "")
    if missing.any():
        i = int(np.argmax(missing))
        which = (f"the row after {index[i - 1]!r}" if i > 0
                 else f"the row before {index[1]!r}" if len(index) > 1 else "a row")
        raise ValueError(f"{which} has no sample id in column 1: give every row an id")


def numbers(frame, columns, rule="metadata and spectra must be finite numbers"):
    """`frame[columns]` as a float array; a cell that is not a finite number is an error."""
    part = frame[columns]
    if all(pd.api.types.is_numeric_dtype(t) for t in part.dtypes):
        x = part.to_numpy(dtype=float)
    else:
        x = part.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(x)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        value = part.iat[i, j]
        what = (
            "the value is missing" if pd.isna(value)
            else f"{value!r} is not a number" if np.isnan(x[i, j])
            else f"the value is {value}"
        )
        raise ValueError(
            f"row {frame.index[i]!r}, column {columns[j]!r}: {what}; {rule}, so correct the "
            "value or remove the row"
        )
    return x


def preprocess(data_file, start=START, stop=STOP, window=WINDOW, targets=None, source=None):
    """Features of a raw file (or frame): metadata, window features, then targets if present.

    Errors in a frame's values name `source` (the file the frame came from), row and column.
    """
    df = data_file if isinstance(data_file, pd.DataFrame) else read_raw(data_file)
    source = source if isinstance(data_file, pd.DataFrame) else data_file
    meta, spectra, targets = split_columns(df.columns, targets)
    try:
        check_ids(df.index)
        x = numbers(df, meta + spectra)
        values, channels = window_features(x[:, len(meta):], start, stop, window, rows=df.index)
    except ValueError as error:
        raise ValueError(f"{source}: {error}" if source else str(error)) from None
    features = pd.DataFrame(values, index=df.index, columns=[spectra[c] for c in channels])
    # The index is written without a name, so that input_fn tells the header line from a row
    # even when every feature name is a number.
    return pd.concat([df[meta], features, df[targets]], axis=1).rename_axis(index=None)


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


@contextmanager
def atomic_output(path):
    """A temporary path beside `path` to write to, renamed over `path` when the block ends well.

    Every step writes its output through this: a step that fails or is killed leaves the
    previous file intact, or none, never a partial one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_features(data_file, output, chunksize=CHUNK_ROWS, **params):
    """Stream `data_file` through `preprocess` chunk by chunk into `output`, atomically."""
    rows = 0
    with atomic_output(output) as tmp, open(tmp, "w", newline="") as out:
        for i, chunk in enumerate(read_chunks(data_file, chunksize)):
            features = preprocess(chunk, source=data_file, **params)
            out.write(csv_text(features, header=i == 0))
            rows += len(features)
    return rows


def target_list(text):
    """The --targets option: comma-separated column names."""
    return [name.strip() for name in text.split(",") if name.strip()]


def add_targets_option(parser):
    """--targets, the explicit target list that overrides the column rule, for every step."""
    parser.add_argument("--targets", type=target_list, default=None,
                        help="comma-separated target columns, overriding the column rule")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=INPUT, help="raw CSV (may be gzipped)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="feature CSV to write")
    add_targets_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    log.info("reading %s", args.input)
    try:
        rows = write_features(args.input, args.output, targets=args.targets)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    log.info("wrote %d rows to %s", rows, args.output)


if __name__ == "__main__":
    main()
