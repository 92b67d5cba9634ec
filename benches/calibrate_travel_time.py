#!/usr/bin/env python3
"""Calibrate careaccess's straight-line -> road km / car minutes model.

Requires: Python >= 3.11, numpy, pandas, pyproj
    pip install numpy pandas pyproj

Usage:
    python3 benches/calibrate_travel_time.py [DATA_DIR]

DATA_DIR holds `osrm_couples_gironde_ORIGINAL.csv` and
`metric_hc_couples_gironde_from_dbf.csv` (see its PROVENANCE.md); it defaults to
`$CAREACCESS_MIRROR/travel_time_calibration_gironde`. The files are only read.

What it does (deterministic: no random numbers, same output on every run):

1. Joins the OSRM pairs (road km, car minutes) and the INSEE Metric off-peak
   minutes on exact Lambert-93 coordinates, drops Metric's 9999 ("not computed").
2. Converts Lambert-93 (EPSG:2154) to WGS84 with pyproj and takes the geodesic
   distance `pyproj.Geod(ellps="WGS84").inv` between the two points.
3. Splits the pairs: pair number k = (id1 + 1) / 2 (ids come in pairs 2k-1, 2k);
   k % 5 == 0 is the held-out test set (20 %), the rest is the training set.
4. Fits every candidate by least absolute *relative* deviations (each pair counts
   by its percentage error, robust to the few pairs where a router snapped a point
   to a far road), computed by iteratively reweighted least squares. Candidates
   are compared by 5-fold cross-validation inside the training set (folds by
   (k // 5) % 5), so the test set plays no part in the choice; see compare().
5. Refits the shipped model on the whole training set, rounds the constants to
   the precision written in src/analysis/travel.rs, and reports the errors of
   those rounded constants on the held-out set, overall and per straight-line
   distance band (0-5, 5-10, 10-20, 20-40, 40+ km); then prints reference values
   for the Rust unit tests.

The shipped model (both parts "banded": piecewise linear, continuous, increasing):

    road_km(d) = sum over straight-line bands of (km of d in the band) x detour_band
    minutes(d) = terminal_min
                 + sum over road-km bands of (km of road in the band) x 60 / speed_band,
                 with road = road_km(d)

Minutes are fitted to Metric off-peak minutes (what the DREES APL uses); the same
form fitted to OSRM minutes is printed for reference only. Relative errors use
max(observed, 1) as denominator (1 km or 1 min: Metric gives whole minutes and
one pair is 0 min).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyproj

OSRM_FILE = "osrm_couples_gironde_ORIGINAL.csv"
METRIC_FILE = "metric_hc_couples_gironde_from_dbf.csv"
BANDS_KM = [0.0, 5.0, 10.0, 20.0, 40.0, np.inf]
KEY = ["X1", "Y1", "X2", "Y2"]

# Breakpoints of the banded candidates (fixed round numbers, not fitted).
ROAD_BREAKS_KM = (10.0, 30.0)  # straight-line km
SPEED_BREAKS_KM = (10.0, 30.0, 60.0)  # road km

# Precision of the constants written in Rust (decimals).
DETOUR_DECIMALS = 4
SPEED_DECIMALS = 1
TERMINAL_DECIMALS = 2


# ----------------------------------------------------------------------------- data


def data_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    mirror = os.environ.get("CAREACCESS_MIRROR")
    if not mirror:
        sys.exit("give DATA_DIR as argument or set CAREACCESS_MIRROR")
    return Path(mirror) / "travel_time_calibration_gironde"


def load(dir_: Path) -> pd.DataFrame:
    osrm = pd.read_csv(dir_ / OSRM_FILE)
    metric = pd.read_csv(dir_ / METRIC_FILE)
    assert (osrm["id2"] == osrm["id1"] + 1).all(), "ids are not paired 2k-1, 2k"
    assert not osrm.duplicated(KEY).any() and not metric.duplicated(KEY).any()
    joined = osrm.merge(metric, on=KEY, how="inner", validate="one_to_one")
    rounded = osrm.round({c: 3 for c in KEY}).merge(
        metric.round({c: 3 for c in KEY}), on=KEY, how="inner"
    )
    valid = joined[joined["HC"] != 9999].copy()
    print(f"data: {dir_}")
    print(
        f"  OSRM rows {len(osrm)}, Metric rows {len(metric)}, exact-coordinate join {len(joined)}"
        f" (join on coordinates rounded to 1 mm would give {len(rounded)}; not used),"
        f" Metric 9999 dropped {len(joined) - len(valid)}, valid pairs {len(valid)}"
    )
    to_wgs84 = pyproj.Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon1, lat1 = to_wgs84.transform(valid["X1"].to_numpy(), valid["Y1"].to_numpy())
    lon2, lat2 = to_wgs84.transform(valid["X2"].to_numpy(), valid["Y2"].to_numpy())
    _, _, metres = pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    valid["straight_km"] = metres / 1000.0
    valid["pair"] = (valid["id1"] + 1) // 2
    valid["test"] = valid["pair"] % 5 == 0
    valid["fold"] = (valid["pair"] // 5) % 5
    return valid.reset_index(drop=True)


# ----------------------------------------------------------------------------- fitting


def l1_relative(
    X: np.ndarray, y: np.ndarray, scale: np.ndarray | None = None, iterations: int = 500
) -> np.ndarray:
    """argmin_p sum |X p - y| / scale (scale defaults to max(y, 1)), by IRLS.

    Stops when the loss improves by less than 1e-10 (relative) from one step to the
    next, which with these data happens well before `iterations`.
    """
    base = 1.0 / (np.maximum(y, 1.0) if scale is None else scale)
    w = base.copy()
    p, loss = np.zeros(X.shape[1]), np.inf
    for _ in range(iterations):
        sw = np.sqrt(w)
        new = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        res = X @ new - y
        new_loss = float(np.sum(base * np.abs(res)))
        if new_loss >= loss * (1.0 - 1e-10):
            if new_loss < loss:
                p = new
            break
        p, loss = new, new_loss
        w = base / np.maximum(np.abs(res), 1e-6)
    return p


def with_terminal(X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Fit y = t0 + X p with t0 >= 0: if the free fit gives t0 < 0, refit with t0 = 0."""
    p = l1_relative(np.column_stack([np.ones(len(y)), X]), y)
    if p[0] >= 0.0:
        return float(p[0]), p[1:]
    return 0.0, l1_relative(X, y)


def rel_errors(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    return (pred - obs) / np.maximum(obs, 1.0)


def band_lengths(x: np.ndarray, breaks: tuple[float, ...]) -> np.ndarray:
    """Columns: how much of x lies in [0, b1], [b1, b2], ..., [b_last, inf)."""
    edges = (0.0, *breaks, np.inf)
    return np.column_stack(
        [np.clip(x, lo, hi) - lo for lo, hi in zip(edges[:-1], edges[1:])]
    )


def banded(x: np.ndarray, breaks: tuple[float, ...], rates: np.ndarray) -> np.ndarray:
    return band_lengths(x, breaks) @ np.asarray(rates)


C_GRID = np.exp(np.linspace(np.log(1.0), np.log(1000.0), 60))  # km, for the saturating fits


@dataclass
class Fitted:
    name: str
    params: dict
    predict: Callable[[np.ndarray], np.ndarray]
    describe: str


# Road candidates: x = straight km, y = OSRM road km. All go through 0 and keep
# road >= straight (detour >= 1).


def fit_road_constant(d: np.ndarray, y: np.ndarray) -> Fitted:
    k = max(1.0, float(l1_relative(d[:, None], y)[0]))
    return Fitted("constant detour", {"k": k}, lambda x: k * x, f"road = {k:.4f} x d")


def fit_road_saturating(d: np.ndarray, y: np.ndarray) -> Fitted:
    """road = a d + b (1 - exp(-d/c)), a >= 1, b >= 0; c on a log grid."""
    best = None
    for c in C_GRID:
        e = 1.0 - np.exp(-d / c)
        a, b = l1_relative(np.column_stack([d, e]), y)
        if a < 1.0:  # detour must stay >= 1 however long the trip: fix a = 1
            a, b = 1.0, l1_relative(e[:, None], y - d, scale=np.maximum(y, 1.0))[0]
        b = max(b, 0.0)
        loss = float(np.sum(np.abs(rel_errors(a * d + b * e, y))))
        if best is None or loss < best[0]:
            best = (loss, a, b, c)
    _, a, b, c = best
    return Fitted(
        "saturating detour",
        {"a": a, "b": b, "c": c},
        lambda x: a * x + b * (1.0 - np.exp(-x / c)),
        f"road = {a:.4f} d + {b:.2f} (1 - exp(-d / {c:.1f}))"
        f"  (detour {a + b / c:.3f} at 0 km -> {a:.3f} far away)",
    )


def fit_road_banded(d: np.ndarray, y: np.ndarray, breaks=ROAD_BREAKS_KM) -> Fitted:
    k = np.maximum(l1_relative(band_lengths(d, breaks), y), 1.0)
    return Fitted(
        "banded detour",
        {"breaks": breaks, "detour": k},
        lambda x: banded(x, breaks, k),
        f"detour per straight-line band {breaks} km: {np.round(k, 4).tolist()}",
    )


# Minutes candidates: x = estimated road km, y = minutes; t0 = terminal time >= 0.


def fit_min_constant(r: np.ndarray, y: np.ndarray) -> Fitted:
    t0, (m,) = with_terminal(r[:, None], y)
    return Fitted(
        "terminal + one speed",
        {"t0": t0, "v": 60.0 / m},
        lambda x: t0 + m * x,
        f"min = {t0:.2f} + road at {60 / m:.1f} km/h",
    )


def fit_min_saturating(r: np.ndarray, y: np.ndarray) -> Fitted:
    """min = t0 + a r + b (1 - exp(-r/c)): speed rises from 60/(a+b/c) to 60/a."""
    best = None
    for c in C_GRID:
        e = 1.0 - np.exp(-r / c)
        t0, (a, b) = with_terminal(np.column_stack([r, e]), y)
        a, b = max(a, 1e-6), max(b, 0.0)
        loss = float(np.sum(np.abs(rel_errors(t0 + a * r + b * e, y))))
        if best is None or loss < best[0]:
            best = (loss, t0, a, b, c)
    _, t0, a, b, c = best
    return Fitted(
        "terminal + saturating",
        {"t0": t0, "a": a, "b": b, "c": c},
        lambda x: t0 + a * x + b * (1.0 - np.exp(-x / c)),
        f"min = {t0:.2f} + {a:.4f} r + {b:.2f} (1 - exp(-r / {c:.1f}))"
        f"  (speed {60 / (a + b / c):.1f} -> {60 / a:.1f} km/h)",
    )


def fit_min_banded(r: np.ndarray, y: np.ndarray, breaks=SPEED_BREAKS_KM) -> Fitted:
    t0, m = with_terminal(band_lengths(r, breaks), y)
    return Fitted(
        "terminal + banded speeds",
        {"t0": t0, "breaks": breaks, "v": 60.0 / m},
        lambda x: t0 + banded(x, breaks, m),
        f"min = {t0:.2f} + road at {np.round(60 / m, 1).tolist()} km/h"
        f" in road-km bands {breaks}",
    )


ROAD_CANDIDATES = [fit_road_constant, fit_road_saturating, fit_road_banded]
MIN_CANDIDATES = [fit_min_constant, fit_min_saturating, fit_min_banded]
# What src/analysis/travel.rs implements; see compare() for the rule.
SHIPPED_ROAD, SHIPPED_MIN = fit_road_banded, fit_min_banded
# Two candidates whose CV errors differ by less than this (0.05 percentage point of
# relative error, i.e. 50 m per 100 km) are a practical tie.
PRACTICAL_TIE = 0.0005


# ----------------------------------------------------------------------------- errors


def error_stats(pred: np.ndarray, obs: np.ndarray) -> dict:
    e = pred - obs
    rel = rel_errors(pred, obs)
    return {
        "n": len(obs),
        "medAE": float(np.median(np.abs(e))),
        "MAE": float(np.mean(np.abs(e))),
        "RMSE": float(np.sqrt(np.mean(e**2))),
        "medRE": float(np.median(np.abs(rel))),
        "p90RE": float(np.quantile(np.abs(rel), 0.9)),
        "bias": float(np.median(rel)),
    }


def fmt_stats(s: dict) -> str:
    return (
        f"n={s['n']:4d}  medAE {s['medAE']:5.2f}  MAE {s['MAE']:5.2f}  RMSE {s['RMSE']:5.2f}"
        f"  medRE {100 * s['medRE']:4.1f}%  p90RE {100 * s['p90RE']:5.1f}%"
        f"  median signed RE {100 * s['bias']:+5.1f}%"
    )


def band_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g} km" if np.isfinite(hi) else f"{lo:g}+ km"


def report(title: str, d: np.ndarray, pred: np.ndarray, obs: np.ndarray) -> None:
    print(f"  {title}")
    print(f"    {'all':9s} {fmt_stats(error_stats(pred, obs))}")
    for lo, hi in zip(BANDS_KM[:-1], BANDS_KM[1:]):
        m = (d >= lo) & (d < hi)
        print(f"    {band_label(lo, hi):9s} {fmt_stats(error_stats(pred[m], obs[m]))}")


def band_counts(df: pd.DataFrame) -> str:
    counts = np.histogram(df["straight_km"], BANDS_KM)[0]
    return ", ".join(
        f"{band_label(lo, hi)}: {n}" for lo, hi, n in zip(BANDS_KM[:-1], BANDS_KM[1:], counts)
    )


# ----------------------------------------------------------------------------- model choice


def col(df: pd.DataFrame, c: str) -> np.ndarray:
    return df[c].to_numpy(dtype=float)


def predictor(road_fit, min_fit, target: str | None):
    """Fit on a frame, return straight km -> road km (target None) or -> minutes."""

    def fit(df: pd.DataFrame) -> Callable[[np.ndarray], np.ndarray]:
        road = road_fit(col(df, "straight_km"), col(df, "Dist_km"))
        if target is None:
            return road.predict
        mins = min_fit(road.predict(col(df, "straight_km")), col(df, target))
        return lambda x: mins.predict(road.predict(x))

    return fit


def out_of_fold(train: pd.DataFrame, fit, target: str) -> np.ndarray:
    """Predictions for every training pair from the model fitted on the other 4 folds."""
    pred = np.zeros(len(train))
    for f in range(5):
        inner = (train["fold"] != f).to_numpy()
        pred[~inner] = fit(train[inner])(col(train[~inner], "straight_km"))
    return pred


def compare(title, train, test, candidates, make, target, shipped, binding=True) -> None:
    """5-fold CV inside the training set; the held-out set is shown, not used to choose.

    Rule: the lowest CV mean |relative error| wins, but a candidate within
    PRACTICAL_TIE of it is preferred when it is the shipped (banded) form, because
    banded constants read as a table and keep the last band's rate beyond the data
    (160 km) instead of drifting with an exponential fitted to the data's range.
    """
    print(f"\n== {title}")
    print("  5-fold CV mean |rel err| (diff to CV best +- paired s.e.) | held-out mean |rel err|")
    obs, obs_te = col(train, target), col(test, target)
    cv = {}
    for cand in candidates:
        fit = make(cand)
        cv[cand] = np.abs(rel_errors(out_of_fold(train, fit, target), obs))
    best = min(candidates, key=lambda c: cv[c].mean())
    for cand in candidates:
        diff = cv[cand] - cv[best]
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        full = make(cand)(train)
        held = np.abs(rel_errors(full(col(test, "straight_km")), obs_te)).mean()
        described = describe(cand, train, target)
        print(
            f"  {cand.__name__:20s} {100 * cv[cand].mean():6.2f}%"
            f" ({100 * diff.mean():+.3f} +- {100 * se:.3f} pp) | {100 * held:6.2f}%   {described}"
        )
    gap = cv[shipped].mean() - cv[best].mean()
    verdict = "best" if shipped is best else (
        "practical tie with the best" if gap < PRACTICAL_TIE else "WORSE than the best: revisit"
    )
    if binding:
        print(f"  shipped: {shipped.__name__} ({verdict}; CV gap {100 * gap:.3f} pp)")
    else:
        print(f"  reference only, not shipped: {shipped.__name__} CV gap {100 * gap:.3f} pp")


def describe(cand, train, target) -> str:
    if cand in ROAD_CANDIDATES:
        return cand(col(train, "straight_km"), col(train, "Dist_km")).describe
    road = SHIPPED_ROAD(col(train, "straight_km"), col(train, "Dist_km"))
    return cand(road.predict(col(train, "straight_km")), col(train, target)).describe


# ----------------------------------------------------------------------------- main


def main() -> None:
    pairs = load(data_dir())
    train, test = pairs[~pairs["test"]], pairs[pairs["test"]]
    print(f"  split: held-out = pair number % 5 == 0: train {len(train)}, test {len(test)}")
    print(f"  training pairs per straight-line band: {band_counts(train)}")
    print(f"  held-out pairs per straight-line band: {band_counts(test)}")
    d = col(pairs, "straight_km")
    print(
        f"  straight-line km: min {d.min():.2f}, median {np.median(d):.2f}, max {d.max():.2f};"
        f" OSRM road km / straight km: median {np.median(col(pairs, 'Dist_km') / d):.3f}"
    )

    compare(
        "road km = f(straight km), target OSRM road km",
        train, test, ROAD_CANDIDATES,
        lambda c: predictor(c, None, None), "Dist_km", SHIPPED_ROAD,
    )
    for target, label in [("HC", "Metric off-peak minutes"), ("Dist_min", "OSRM minutes")]:
        compare(
            f"minutes = g(estimated road km), target {label} (road model: {SHIPPED_ROAD.__name__})",
            train, test, MIN_CANDIDATES,
            lambda c: predictor(SHIPPED_ROAD, c, target), target, SHIPPED_MIN,
            binding=target == "HC",
        )

    # The shipped constants: fitted on the training set, rounded as written in Rust;
    # the minutes are fitted on the road km that the rounded detours give.
    d_tr = col(train, "straight_km")
    detour = np.round(SHIPPED_ROAD(d_tr, col(train, "Dist_km")).params["detour"], DETOUR_DECIMALS)
    r_tr = banded(d_tr, ROAD_BREAKS_KM, detour)
    consts = {}
    for target in ["HC", "Dist_min"]:
        m = SHIPPED_MIN(r_tr, col(train, target))
        consts[target] = (
            round(float(m.params["t0"]), TERMINAL_DECIMALS),
            np.round(m.params["v"], SPEED_DECIMALS),
        )

    def road_km(d: np.ndarray) -> np.ndarray:
        return banded(d, ROAD_BREAKS_KM, detour)

    def minutes(d: np.ndarray, target: str = "HC") -> np.ndarray:
        t0, v = consts[target]
        return t0 + banded(road_km(d), SPEED_BREAKS_KM, 60.0 / v)

    print("\n== shipped constants (fitted on the training set, rounded)")
    print(f"  straight-line breaks {ROAD_BREAKS_KM} km, detour per band {detour.tolist()}")
    for target, label in [("HC", "Metric"), ("Dist_min", "OSRM (reference only)")]:
        t0, v = consts[target]
        print(
            f"  {label}: terminal {t0} min, road-km breaks {SPEED_BREAKS_KM},"
            f" speed per band {v.tolist()} km/h"
        )
    check_assumptions(detour, consts["HC"][1], consts["HC"][0])

    d_te = col(test, "straight_km")
    print(f"\n== held-out errors of the shipped constants ({len(test)} pairs; bands by straight-line km)")
    report("road km vs OSRM road km [km]", d_te, road_km(d_te), col(test, "Dist_km"))
    report("minutes vs Metric off-peak [min]", d_te, minutes(d_te), col(test, "HC"))
    report("minutes vs OSRM [min]", d_te, minutes(d_te), col(test, "Dist_min"))
    report(
        "for reference, minutes with the OSRM-fitted speeds vs OSRM [min]",
        d_te, minutes(d_te, "Dist_min"), col(test, "Dist_min"),
    )
    report(
        "for scale, OSRM minutes vs Metric off-peak [min] (router vs router)",
        d_te, col(test, "Dist_min"), col(test, "HC"),
    )

    print("\n== 5-fold out-of-fold errors on the training set, shipped model form"
          " (more short pairs than the held-out set)")
    report(
        "road km vs OSRM road km [km]", d_tr,
        out_of_fold(train, predictor(SHIPPED_ROAD, None, None), "Dist_km"), col(train, "Dist_km"),
    )
    report(
        "minutes vs Metric off-peak [min]", d_tr,
        out_of_fold(train, predictor(SHIPPED_ROAD, SHIPPED_MIN, "HC"), "HC"), col(train, "HC"),
    )

    print("\n== reference values for the tests in src/analysis/travel.rs")
    print("  (straight metres, road km, Metric minutes)")
    for metres in [0.0, 500.0, 3_000.0, 10_000.0, 25_000.0, 50_000.0, 100_000.0, 300_000.0]:
        km = np.array([metres / 1000.0])
        print(f"  ({metres!r}, {float(road_km(km)[0])!r}, {float(minutes(km)[0])!r}),")


def check_assumptions(detour: np.ndarray, speeds: np.ndarray, t0: float) -> None:
    ok = bool((detour >= 1.0).all() and (speeds > 0).all() and (np.diff(speeds) >= 0).all())
    ok = ok and t0 >= 0.0
    print(f"  detour >= 1 in every band, speeds > 0 and rising with distance, terminal >= 0: {ok}")
    if not ok:
        sys.exit("fitted constants break the model's assumptions: revisit the breakpoints")


if __name__ == "__main__":
    main()
