"""Write a synthetic data set in the challenge layout, of any number of rows.

Index, SiteID, DepthFrom, DepthTo, 1,700 spectral channels named by wavenumber (descending),
then the 49 challenge targets (`preprocess.TARGETS`) in order. Each spectrum is a smooth
baseline plus a few absorption bands whose depths are hidden "mineral" amounts; each target is
a mix of those amounts on its unit's typical magnitude, plus noise, so a model can learn it.
Values below a target's detection limit are written as its negative code (-1, -50 or -100),
as assay labs do. The output is the same for the same --rows and --seed, and is written in
chunks, so any size fits in memory.

    python data/synthetic/prepare.py --rows 1344                      # data/synthetic/synthetic.csv
    python data/synthetic/prepare.py --rows 134400 --output /tmp/big.csv --seed 1
    python data/synthetic/prepare.py --rows 1344 --output data/public/public.csv.gz
"""
import argparse
import gzip
import logging
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from preprocess import TARGETS, atomic_output  # noqa: E402  (the one target list)

ROWS, SEED = 1344, 0  # the challenge's size
OUTPUT = Path(__file__).resolve().parent / "synthetic.csv"
CHANNELS = 1700
WAVENUMBERS = np.linspace(4000.0, 400.0, CHANNELS)  # cm-1, the instrument's descending order
COMPONENTS = 8  # hidden minerals, each with one to three absorption bands
SITES = 30
AMOUNT_SD, SPECTRUM_NOISE, TARGET_NOISE = 0.5, 0.002, 0.3  # log-amounts, absorbance, log-assays
CHUNK = 5000  # rows generated and written at a time (fixed: the output depends on it)
DECIMALS = 6  # spectra as an instrument export writes them
BELOW_DETECTION_Z = -1.645  # normal 5% quantile: about 5% of each target is below detection
MAGNITUDE = {"PPM": 30.0, "PCT": 2.0, "PPB": 200.0}  # typical size of a value in each unit
SPECIFIC = {  # typical values for assays far from their unit's usual size
    "AuPPM": 0.05, "AgPPM": 0.5, "CdPPM": 0.2, "BaPPM": 500.0, "CuPPM": 150.0, "MnPPM": 800.0,
    "SPPM": 2000.0, "SrPPM": 150.0, "ZrPPM": 150.0, "AlPPM": 70000.0, "CaPPM": 20000.0,
    "KPPM": 20000.0, "MgPPM": 15000.0, "NaPPM": 10000.0, "TiPPM": 4000.0, "FePCT": 5.0,
    "PPCT": 0.08, "VPCT": 0.01, "RePPM": 0.002, "InPPM": 0.05, "TePPB": 50.0, "UPPB": 2000.0,
    "ThPPB": 8000.0, "TlPPM": 0.5, "SePPM": 1.0,
}

log = logging.getLogger("synthetic")


def model(seed):
    """The fixed parts of a data set: band shapes, how targets mix the minerals, codes."""
    rng = np.random.default_rng(seed)
    x = np.arange(CHANNELS)
    bands = np.zeros((COMPONENTS, CHANNELS))
    for c in range(COMPONENTS):
        for _ in range(rng.integers(1, 4)):
            centre, width = rng.uniform(50, CHANNELS - 350), rng.uniform(5, 40)
            bands[c] += rng.uniform(0.2, 1.0) * np.exp(-0.5 * ((x - centre) / width) ** 2)
    shape = (COMPONENTS, len(TARGETS))
    mix = rng.normal(0, 1, shape) * (rng.random(shape) < 0.5)  # each mixes about half of them
    mix[rng.integers(COMPONENTS, size=len(TARGETS)), np.arange(len(TARGETS))] += 1.5
    scale = np.array([SPECIFIC.get(t, MAGNITUDE[t[-3:]]) for t in TARGETS])
    # a target's log has this spread; its lowest 5% fall under `limit`
    spread = np.sqrt(AMOUNT_SD**2 * (mix**2).sum(axis=0) / COMPONENTS + TARGET_NOISE**2)
    limit = scale * np.exp(BELOW_DETECTION_Z * spread)
    codes = rng.choice([-1.0, -50.0, -100.0], size=len(TARGETS))
    return bands, mix, scale, limit, codes


def chunk_text(seed, index, rows, bands, mix, scale, limit, codes):
    """Rows [index*CHUNK, index*CHUNK + rows) as CSV lines, from their own random stream."""
    rng = np.random.default_rng([seed, index])
    first = index * CHUNK
    amounts = rng.lognormal(0, AMOUNT_SD, (rows, COMPONENTS))
    slope = rng.uniform(0.05, 0.3, (rows, 1))
    baseline = rng.uniform(0.2, 0.6, (rows, 1)) + slope * np.linspace(0, 1, CHANNELS)
    spectra = baseline + amounts @ bands + rng.normal(0, SPECTRUM_NOISE, (rows, CHANNELS))
    latent = np.log(amounts) @ mix / np.sqrt(COMPONENTS)
    targets = scale * np.exp(latent + rng.normal(0, TARGET_NOISE, (rows, len(TARGETS))))
    targets = np.where(targets < limit, codes, np.round(targets, 4))
    site = rng.integers(1, SITES + 1, rows)
    depth = np.round(rng.uniform(0, 300, rows), 1)
    heads = [f"{first + i},{s},{d!r},{round(d + 1.0, 1)!r}," for i, (s, d)
             in enumerate(zip(site.tolist(), depth.tolist()))]
    tails = [",".join(map(repr, t)) + "\n" for t in targets.tolist()]
    block = fixed_point(spectra)
    return b"".join(h.encode() + row.tobytes() + t.encode()
                    for h, row, t in zip(heads, block, tails))


def fixed_point(x, decimals=DECIMALS):
    """Each value as 'd.dddddd,' (saturating to [0, 10), as an instrument does), one row each.

    Built digit by digit with array arithmetic: formatting 1,700 floats a row one at a time
    would make a 100x file take many minutes.
    """
    n, m = x.shape
    top = 10**decimals
    scaled = np.clip(np.rint(x * top), 0, 10 * top - 1).astype(np.int64)
    text = np.empty((n, m, decimals + 3), np.uint8)  # digit, point, decimals, comma
    text[..., 0] = scaled // top + ord("0")
    text[..., 1] = ord(".")
    for k in range(decimals):
        text[..., 2 + k] = scaled // 10 ** (decimals - 1 - k) % 10 + ord("0")
    text[..., -1] = ord(",")
    return text.reshape(n, -1)


def header():
    names = ["", "SiteID", "DepthFrom", "DepthTo", *(f"{w:.1f}" for w in WAVENUMBERS), *TARGETS]
    return (",".join(names) + "\n").encode()


def write(rows, output, seed=SEED):
    """Write the data set to `output` (gzipped if it ends in .gz), atomically."""
    output = Path(output)
    parts, chunks = model(seed), -(-rows // CHUNK)
    # No name and no time in the gzip header, so the same seed gives the same bytes.
    with atomic_output(output) as tmp, open(tmp, "wb") as raw, (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        if output.suffix == ".gz" else nullcontext(raw)
    ) as out:
        out.write(header())
        for index in tqdm(range(chunks), unit="chunk", disable=chunks == 1):
            out.write(chunk_text(seed, index, min(CHUNK, rows - index * CHUNK), *parts))
    return output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    write(args.rows, args.output, args.seed)
    log.info("wrote %d rows x %d columns to %s", args.rows,
             3 + CHANNELS + len(TARGETS), args.output)


if __name__ == "__main__":
    main()
