"""Exploratory analysis: figures of the samples, the targets, the spectra and their relations.

Writes PNG files to reports/eda/, each named for what it shows, and prints a summary of the
targets (below-detection counts, range). Works on any file in the data format.

    python eda.py                                   # data/public/public.csv.gz -> reports/eda/
    python eda.py --input my.csv.gz --output reports/mine --targets ClayPCT pH

The `# %%` cells run one by one in VSCode (Run Cell), where the figures are also shown.
"""
# %% Settings
import argparse
import logging
import sys
from pathlib import Path

import matplotlib

INTERACTIVE = "ipykernel" in sys.modules
if not INTERACTIVE:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from preprocess import (  # noqa: E402
    CHANNEL_NAME, INPUT, METADATA, START, STOP, WINDOW, add_targets_option, preprocess,
    window_features)
from score import most_weighted, weights  # noqa: E402
from val import load  # noqa: E402

log = logging.getLogger("eda")

OUTPUT = Path(__file__).resolve().parent / "reports" / "eda"
DECADES = 2  # a target whose positive values span this many powers of 10 is drawn on log x
EXTREMES = 5  # samples drawn at each end of the most weighted target


def save(fig, path):
    fig.savefig(path, dpi=90)
    log.info("wrote %s", path)
    if INTERACTIVE:
        plt.show()
    plt.close(fig)


def channel_axis(spectra):
    """The channels' wavenumbers when every name ends in a number, else their positions."""
    found = [CHANNEL_NAME.search(c) for c in spectra]
    if all(found):
        return np.array([float(m.group("number")) for m in found]), "wavenumber (cm⁻¹)"
    return np.arange(len(spectra)), "channel"


def target_summary(y):
    """Per target: rows, below-detection (negative) count and codes, zeros, range, span."""
    rows = []
    for name, v in y.items():
        v = v.to_numpy(dtype=float)
        positive = v[v > 0]
        rows.append({
            "target": name, "weight": weights(list(y.columns))[list(y.columns).index(name)],
            "rows": int(np.isfinite(v).sum()), "below detection": int((v < 0).sum()),
            "codes": " ".join(f"{c:g}" for c in np.unique(v[v < 0])), "zeros": int((v == 0).sum()),
            "min": np.nanmin(v), "median": np.nanmedian(v), "max": np.nanmax(v),
            "decades": np.log10(positive.max() / positive.min()) if len(positive) else 0.0,
        })
    return pd.DataFrame(rows).set_index("target")


def plot_depth_intervals(meta, path):
    """Each sample's DepthFrom-DepthTo interval, one column per site, depth down."""
    sites = meta["SiteID"] if "SiteID" in meta else pd.Series(0, index=meta.index)
    top = meta["DepthFrom"] if "DepthFrom" in meta else meta.get("DepthTo")
    bottom = meta["DepthTo"] if "DepthTo" in meta else top
    groups = list(pd.Series(top.to_numpy(), index=sites.to_numpy()).groupby(level=0))
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(groups) + 2), 5))
    for i, (site, _) in enumerate(groups):
        rows = np.flatnonzero(sites.to_numpy() == site)
        rows = rows[np.argsort(top.to_numpy()[rows], kind="stable")]
        x = i + (np.arange(len(rows)) % 4 - 1.5) * 0.12  # neighbours side by side
        ax.vlines(x, top.to_numpy()[rows], bottom.to_numpy()[rows], lw=2, color=f"C{i % 10}")
        ax.plot(x, top.to_numpy()[rows], "_", color="k", ms=5)
        ax.text(i, 1.0, f"n={len(rows)}", ha="center", va="bottom", fontsize=8,
                transform=ax.get_xaxis_transform())
    ax.set_xticks(range(len(groups)), [f"{s:g}" if isinstance(s, (int, float, np.number))
                                       else str(s) for s, _ in groups],
                  rotation=90 if len(groups) > 15 else 0)
    ax.invert_yaxis()
    ax.set(xlabel="SiteID", ylabel="depth (DepthFrom to DepthTo)")
    ax.set_title("sample depth intervals per site", pad=16)
    fig.tight_layout()
    save(fig, path)


def plot_target_distributions(y, summary, path):
    """A histogram per target, on log x where its positive values span DECADES or more."""
    n = y.shape[1]
    cols = min(n, 7)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows + 0.6), squeeze=False)
    for ax, (name, v) in zip(axes.flat, y.items()):
        v = v.to_numpy(dtype=float)
        positive = v[v > 0]
        info = summary.loc[name]
        logx = len(positive) > 1 and info["decades"] >= DECADES
        if len(positive):
            bins = (np.geomspace(positive.min(), positive.max(), 25) if logx
                    else np.linspace(np.nanmin(v[v >= 0]), positive.max(), 25))
            counts, bins = np.histogram(positive if logx else v[v >= 0], bins=bins)
            ax.stairs(counts, bins, fill=True, color="tab:blue")  # one patch: fast on 49 axes
        if logx:
            ax.set_xscale("log")
        notes = []
        if info["below detection"]:
            notes.append(f"{info['below detection']} below detection ({info['codes']})")
        if info["zeros"] and logx:
            notes.append(f"{info['zeros']} zeros (not drawn)")
        if notes:
            ax.text(0.98, 0.95, "\n".join(notes), transform=ax.transAxes, ha="right", va="top",
                    fontsize=7, color="tab:red", bbox=dict(fc="w", ec="none", alpha=0.8))
            ax.axvline(ax.get_xlim()[0], color="tab:red", lw=4)
        ax.set_title(f"{name}{' (log x)' if logx else ''}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle("distribution of every target (red: below-detection codes, not drawn)",
                 fontsize=10)
    # tight_layout takes long on 49 axes; fixed margins fit the labels
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.35 / rows, top=1 - 0.6 / (2.2 * rows + 0.6),
                        hspace=0.45, wspace=0.25)
    save(fig, path)


def plot_mean_spectrum(raw, normalised, axis, label, start, stop, path):
    """Mean spectrum ± sd and 5-95 % band, as measured and as normalised by the recipe."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for ax, x, what in [(axes[0], raw, "as measured"),
                        (axes[1], normalised, f"normalised by max over [{start}:{stop}]")]:
        mean, sd = x.mean(axis=0), x.std(axis=0)
        low, high = np.percentile(x, [5, 95], axis=0)
        ax.fill_between(axis, low, high, color="tab:blue", alpha=0.2, label="5-95 %")
        ax.fill_between(axis, mean - sd, mean + sd, color="tab:blue", alpha=0.4, label="± 1 sd")
        ax.plot(axis, mean, color="k", lw=1, label="mean")
        ax.set(ylabel="spectrum", title=f"mean spectrum, {what} "
               f"({len(x)} samples)")
        ax.legend(loc="best", fontsize=8)
    used = axis[start:stop]
    axes[0].axvspan(used[0], used[-1], color="tab:orange", alpha=0.08,
                    label="normalisation range")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].set_xlabel(label)
    if axis[0] > axis[-1]:
        axes[1].invert_xaxis()
    fig.tight_layout()
    save(fig, path)


def plot_extremes(normalised, axis, label, target, path):
    """Normalised spectra of the EXTREMES highest and lowest samples of `target`."""
    order = np.argsort(target.to_numpy(), kind="stable")
    low, high = order[:EXTREMES], order[-EXTREMES:]
    fig, axes = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1]})
    axes[0].plot(axis, normalised.mean(axis=0), color="0.5", lw=2, label="mean of all")
    for rows, color, what in [(high, "tab:red", "highest"), (low, "tab:blue", "lowest")]:
        values = ", ".join(f"{v:g}" for v in target.to_numpy()[rows])
        for k, r in enumerate(rows):
            axes[0].plot(axis, normalised[r], color=color, lw=0.8, alpha=0.8,
                         label=f"{EXTREMES} {what}: {values}" if k == 0 else None)
    axes[0].set(ylabel="normalised spectrum",
                title=f"spectra of the samples with the highest and lowest {target.name}")
    axes[0].legend(fontsize=8)
    axes[1].plot(axis, normalised[high].mean(axis=0) - normalised[low].mean(axis=0), color="k",
                 lw=1)
    axes[1].axhline(0, color="0.6", lw=0.8)
    axes[1].set(xlabel=label, ylabel="highest − lowest (means)")
    if axis[0] > axis[-1]:
        axes[1].invert_xaxis()
    fig.tight_layout()
    save(fig, path)


def plot_correlation(features, y, axis, label, path):
    """Spearman correlation of each window feature with each target."""
    ranks_x = features.rank().to_numpy()
    ranks_y = y.rank().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column has no ρ (NaN)
        zx = (ranks_x - ranks_x.mean(0)) / ranks_x.std(0)
        zy = (ranks_y - ranks_y.mean(0)) / ranks_y.std(0)
        corr = zy.T @ zx / len(zx)
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.22 * y.shape[1]))
    image = ax.imshow(corr, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                      extent=[axis[0], axis[-1], y.shape[1] - 0.5, -0.5], interpolation="nearest")
    ax.set_yticks(range(y.shape[1]), y.columns, fontsize=8 if y.shape[1] < 20 else 6)
    ax.set(xlabel=f"window feature ({label} of its last channel)",
           title=f"Spearman correlation of each feature (window {WINDOW}) with each target")
    fig.colorbar(image, ax=ax, label="ρ", fraction=0.03)
    fig.tight_layout()
    save(fig, path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=INPUT, help="raw CSV (may be gzipped)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder for the figures")
    add_targets_option(parser)
    # parse_known_args: VSCode's interactive window passes its own arguments
    return parser.parse_known_args(argv)[0]


# %% Read the data
args = parse_args()
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
data, y, spectra = load(args.input, args.targets, need_targets=False)
meta, targets = [c for c in data.columns if c in METADATA], list(y.columns)
data = pd.concat([data, y], axis=1)
raw = data[spectra].to_numpy(dtype=float)
axis, axis_label = channel_axis(spectra)
normalised = window_features(raw, START, STOP, 1, rows=data.index)[0]  # the recipe, window 1
args.output.mkdir(parents=True, exist_ok=True)
log.info("%s: %d rows, %d metadata, %d channels, %d targets", args.input, len(data), len(meta),
         len(spectra), len(targets))

# %% Targets: how many below detection, and their range
if targets:
    summary = target_summary(y)
    summary.to_csv(args.output / "target_summary.csv")
    print(summary.to_string(float_format=lambda v: f"{v:.4g}"))

# %% Sample depth intervals per site
if {"DepthFrom", "DepthTo"} & set(meta):
    plot_depth_intervals(data[meta], args.output / "depth_intervals_per_site.png")
else:
    log.info("no DepthFrom/DepthTo columns: no depth figure")

# %% Distribution of every target
if targets:
    plot_target_distributions(y, summary, args.output / "target_distributions.png")

# %% Mean spectrum with its spread
plot_mean_spectrum(raw, normalised, axis, axis_label, START, STOP,
                   args.output / "mean_spectrum_with_spread.png")

# %% Spectra of the samples with the highest and lowest values of the most weighted target
if targets:
    top = most_weighted(targets)
    plot_extremes(normalised, axis, axis_label, y[top],
                  args.output / f"spectra_highest_lowest_{top}.png")

# %% Correlation of each feature with each target
if targets:
    features = preprocess(data, targets=targets).drop(columns=meta + targets)
    plot_correlation(features, y, channel_axis(list(features.columns))[0], axis_label,
                     args.output / "feature_target_correlation.png")
