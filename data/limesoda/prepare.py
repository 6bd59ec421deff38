"""Build the default data set, data/public/public.csv.gz, from the LimeSoDa package.

The three North Rhine-Westphalia sets of LimeSoDa (NRW.42, NRW.62, NRW.115): mid-infrared
spectra of dried, sieved soil, 1686 channels from 3799 to 549.6 cm-1, with soil organic
carbon, pH and clay content. Written in the challenge layout: index, SiteID (the set),
DepthFrom, DepthTo, one column per wavenumber, then the targets.

    python data/limesoda/prepare.py                 # writes data/public/public.csv.gz
    python data/limesoda/prepare.py --output other.csv.gz
"""
import argparse
import logging
import sys
from pathlib import Path

import LimeSoDa
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from preprocess import INPUT, atomic_output  # noqa: E402  (the default input, the writer)

SETS = ["NRW.42", "NRW.62", "NRW.115"]  # SiteID 1, 2, 3
TARGETS = {"SOC_target": "SOCPCT", "pH_target": "pH", "Clay_target": "ClayPCT"}
DEPTH = (0.0, 0.3)  # topsoil, 0-30 cm, in metres

log = logging.getLogger("prepare")


def limesoda_frame():
    frames = []
    for site, name in enumerate(SETS, start=1):
        data = LimeSoDa.load_dataset(name)["Dataset"]
        spectra = data.filter(like="wn_")
        spectra.columns = [f"{float(c[3:]):.1f}" for c in spectra.columns]
        frame = pd.concat(
            [
                pd.DataFrame({"SiteID": site, "DepthFrom": DEPTH[0], "DepthTo": DEPTH[1]},
                             index=data.index),
                spectra,
                data[list(TARGETS)].rename(columns=TARGETS),
            ],
            axis=1,
        )
        frame.index = [f"{name}-{i}" for i in data.index]
        frames.append(frame)
        log.info("%s: %d samples, %d channels", name, len(frame), spectra.shape[1])
    out = pd.concat(frames)
    out.index.name = "SampleID"
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=INPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    df = limesoda_frame()
    with atomic_output(args.output) as tmp:
        df.to_csv(tmp, compression={"method": "gzip", "mtime": 0})
    log.info("wrote %d rows x %d columns to %s", *df.shape, args.output)


if __name__ == "__main__":
    main()
