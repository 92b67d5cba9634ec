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
   (k // 5) % 5), so the test set plays no part in the choice.
5. Refits the chosen candidates on the whole training set, rounds the constants
   to the precision written in src/analysis/travel.rs, and reports the errors of
   those rounded constants on the held-out set, overall and per straight-line
   distance band; then prints reference values for the Rust unit tests.

The model (both parts are "banded": piecewise linear, continuous, increasing):

    road_km(d)  = sum over straight-line bands of (km of d in the band) x detour_band
    minutes(d)  = terminal_min + sum over road-km bands of (km of road in band) x 60 / speed_band
                  with road = road_km(d)

Relative errors on minutes use max(observed, 1 min) as denominator (Metric gives
whole minutes, one pair is 0 min).
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
SPEED_BREAKS_KM = (15.0, 40.0)  # road km

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


def l1_relative(X: np.ndarray, y: np.ndarray, iterations: int = 200) -> np.ndarray:
    """argmin_p sum |X p - y| / max(y, 1) by iteratively reweighted least squares."""
    base = 1.0 / np.maximum(y, 1.0)
    w = base.copy()
    p = np.zeros(X.shape[1])
    for _ in range(iterations):
        sw = np.sqrt(w)
        new = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        if np.allclose(new, p, rtol=1e-12, atol=1e-12):
            p = new
            break
        p = new
        w = base / np.maximum(np.abs(X @ p - y), 1e-6)
    return p


def rel_loss(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(np.abs(pred - y) / np.maximum(y, 1.0)))


def band_lengths(x: np.ndarray, breaks: tuple[float, ...]) -> np.ndarray:
    """Columns: how much of x lies in [0, b1], [b1, b2], ..., [b_last, inf)."""
    edges = (0.0, *breaks, np.inf)
    return np.column_stack(
        [np.clip(x, lo, hi) - lo for lo, hi in zip(edges[:-1], edges[1:])]
    )


def banded(x: np.ndarray, breaks: tuple[float, ...], rates: np.ndarray) -> np.ndarray:
    return band_lengths(x, breaks) @ np.asarray(rates)


@dataclass
class Fitted:
    name: str
    params: dict
    predict: Callable[[np.ndarray], np.ndarray]
    describe: str


# Road candidates: x = straight km, y = OSRM road km. All go through 0 and have
# road >= straight (detour >= 1).


def fit_road_constant(d: np.ndarray, y: np.ndarray) -> Fitted:
    k = max(1.0, l1_relative(d[:, None], y)[0])
    return Fitted("constant detour", {"k": k}, lambda x: k * x, f"road = {k:.4f} x d")


def fit_road_saturating(d: np.ndarray, y: np.ndarray) -> Fitted:
    """road = a d + b (1 - exp(-d/c)), a >= 1, b >= 0; c on a log grid."""
    best = None
    for c in np.exp(np.linspace(np.log(1.0), np.log(1000.0), 120)):
        e = 1.0 - np.exp(-d / c)
        a, b = l1_relative(np.column_stack([d, e]), y)
        if a < 1.0:
            a, b = 1.0, l1_relative(e[:, None], y - d)[0]
        b = max(b, 0.0)
        loss = rel_loss(a * d + b * e, y)
        if best is None or loss < best[0]:
            best = (loss, a, b, c)
    _, a, b, c = best
    return Fitted(
        "saturating detour",
        {"a": a, "b": b, "c": c},
        lambda x: a * x + b * (1.0 - np.exp(-x / c)),
        f"road = {a:.4f} d + {b:.3f} (1 - exp(-d / {c:.1f}))",
    )


def fit_road_banded(d: np.ndarray, y: np.ndarray, breaks=ROAD_BREAKS_KM) -> Fitted:
    k = l1_relative(band_lengths(d, breaks), y)
    k = np.maximum(k, 1.0)
    return Fitted(
        "banded detour",
        {"breaks": breaks, "detour": k},
        lambda x: banded(x, breaks, k),
        f"detour per band {breaks} km: {np.round(k, 4)}",
    )


# Minutes candidates: x = estimated road km, y = minutes. Intercept = terminal time.


def fit_min_constant(r: np.ndarray, y: np.ndarray) -> Fitted:
    t0, m = l1_relative(np.column_stack([np.ones_like(r), r]), y)
    t0 = max(t0, 0.0)
    return Fitted(
        "terminal + one speed",
        {"t0": t0, "v": 60.0 / m},
        lambda x: t0 + m * x,
        f"min = {t0:.2f} + road / {60 / m:.1f} km/h",
    )


def fit_min_saturating(r: np.ndarray, y: np.ndarray) -> Fitted:
    """min = t0 + a r + b (1 - exp(-r/c)): speed rises from 60/(a+b/c) to 60/a."""
    best = None
    for c in np.exp(np.linspace(np.log(1.0), np.log(1000.0), 120)):
        e = 1.0 - np.exp(-r / c)
        t0, a, b = l1_relative(np.column_stack([np.ones_like(r), r, e]), y)
        t0, a, b = max(t0, 0.0), max(a, 1e-6), max(b, 0.0)
        loss = rel_loss(t0 + a * r + b * e, y)
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
    X = np.column_stack([np.ones_like(r), band_lengths(r, breaks)])
    p = l1_relative(X, y)
    t0, m = max(p[0], 0.0), p[1:]
    return Fitted(
        "terminal + banded speeds",
        {"t0": t0, "breaks": breaks, "v": 60.0 / m},
        lambda x: t0 + banded(x, breaks, m),
        f"min = {t0:.2f} + road at {np.round(60 / m, 1)} km/h in road bands {breaks} km",
    )


ROAD_CANDIDATES = [fit_road_constant, fit_road_saturating, fit_road_banded]
MIN_CANDIDATES = [fit_min_constant, fit_min_saturating, fit_min_banded]


# ----------------------------------------------------------------------------- errors


def error_stats(pred: np.ndarray, obs: np.ndarray) -> dict:
    e = pred - obs
    rel = e / np.maximum(obs, 1.0)
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
        f"n={s['n']:4d}  medAE {s['medAE']:6.2f}  MAE {s['MAE']:6.2f}  RMSE {s['RMSE']:6.2f}"
        f"  medRE {100 * s['medRE']:5.1f}%  p90RE {100 * s['p90RE']:5.1f}%"
        f"  median signed RE {100 * s['bias']:+5.1f}%"
    )


def report(title: str, unit: str, d: np.ndarray, pred: np.ndarray, obs: np.ndarray):
    print(f"  {title} [{unit}]")
    print(f"    all        {fmt_stats(error_stats(pred, obs))}")
    for lo, hi in zip(BANDS_KM[:-1], BANDS_KM[1:]):
        m = (d >= lo) & (d < hi)
        label = f"{lo:g}-{hi:g} km" if np.isfinite(hi) else f"{lo:g}+ km"
        print(f"    {label:10s} {fmt_stats(error_stats(pred[m], obs[m]))}")


def cross_validate(train: pd.DataFrame, fit_one: Callable) -> float:
    """Mean absolute relative error over the 5 folds' held-out pairs."""
    losses, n = 0.0, 0
    for f in range(5):
        inner, outer = train[train["fold"] != f], train[train["fold"] == f]
        pred, obs = fit_one(inner, outer)
        losses += rel_loss(pred, obs)
        n += len(obs)
    return losses / n


# ----------------------------------------------------------------------------- main


def main() -> None:
    pairs = load(data_dir())
    train, test = pairs[~pairs["test"]], pairs[pairs["test"]]
    print(
        f"  split: held-out = pair number % 5 == 0: train {len(train)}, test {len(test)}"
    )
    print("  training pairs per straight-line band:", band_counts(train))
    print("  held-out pairs per straight-line band:", band_counts(test))
    col = lambda df, c: df[c].to_numpy(dtype=float)  # noqa: E731

    # --- 1. road km: choose by 5-fold CV on the training set
    print("\n== road km = f(straight km), target OSRM road km; 5-fold CV on training set")
    cv_road = {}
    for cand in ROAD_CANDIDATES:

        def one(inner, outer, cand=cand):
            m = cand(col(inner, "straight_km"), col(inner, "Dist_km"))
            return m.predict(col(outer, "straight_km")), col(outer, "Dist_km")

        cv_road[cand] = cross_validate(train, one)
        full = cand(col(train, "straight_km"), col(train, "Dist_km"))
        print(f"  {full.name:26s} CV mean |rel err| {100 * cv_road[cand]:.2f}%   {full.describe}")
    road_cand = min(ROAD_CANDIDATES, key=lambda c: cv_road[c])

    # --- 2. minutes = g(estimated road km): CV, the road model refitted in each fold
    for target, label in [("HC", "Metric off-peak minutes"), ("Dist_min", "OSRM minutes")]:
        print(f"\n== minutes = g(estimated road km), target {label}; 5-fold CV on training set")
        cv_min = {}
        for cand in MIN_CANDIDATES:

            def one(inner, outer, cand=cand):
                road = road_cand(col(inner, "straight_km"), col(inner, "Dist_km"))
                m = cand(road.predict(col(inner, "straight_km")), col(inner, target))
                return m.predict(road.predict(col(outer, "straight_km"))), col(outer, target)

            cv_min[cand] = cross_validate(train, one)
            road = road_cand(col(train, "straight_km"), col(train, "Dist_km"))
            full = cand(road.predict(col(train, "straight_km")), col(train, target))
            print(f"  {full.name:26s} CV mean |rel err| {100 * cv_min[cand]:.2f}%   {full.describe}")
        if target == "HC":
            min_cand = min(MIN_CANDIDATES, key=lambda c: cv_min[c])

    # --- 3. the shipped model: banded road + banded speeds (see the doc of travel.rs
    # for why), fitted on the training set, constants rounded as written in Rust.
    d_tr = col(train, "straight_km")
    road = fit_road_banded(d_tr, col(train, "Dist_km"))
    detour = np.round(road.params["detour"], DETOUR_DECIMALS)
    r_tr = banded(d_tr, ROAD_BREAKS_KM, detour)
    speeds = {}
    for target in ["HC", "Dist_min"]:
        m = fit_min_banded(r_tr, col(train, target))
        speeds[target] = (
            round(float(m.params["t0"]), TERMINAL_DECIMALS),
            np.round(m.params["v"], SPEED_DECIMALS),
        )

    def road_km(d):
        return banded(np.maximum(d, 0.0), ROAD_BREAKS_KM, detour)

    def minutes(d, target="HC"):
        t0, v = speeds[target]
        return t0 + banded(road_km(d), SPEED_BREAKS_KM, 60.0 / v)

    print("\n== CV winners:", road_cand.__name__, "+", min_cand.__name__)
    print("== shipped constants (fitted on the training set, rounded)")
    print(f"  road breaks (straight km) {ROAD_BREAKS_KM}, detour per band {detour.tolist()}")
    for target in ["HC", "Dist_min"]:
        t0, v = speeds[target]
        print(
            f"  {target:8s}: terminal {t0} min, road breaks (road km) {SPEED_BREAKS_KM},"
            f" speeds {v.tolist()} km/h"
        )
    check_monotone(detour, speeds["HC"][1])

    d_te = col(test, "straight_km")
    print(f"\n== held-out errors ({len(test)} pairs; bands by straight-line km)")
    report("road km vs OSRM road km", "km", d_te, road_km(d_te), col(test, "Dist_km"))
    report("minutes (Metric-fitted) vs Metric off-peak", "min", d_te, minutes(d_te), col(test, "HC"))
    report("minutes (Metric-fitted) vs OSRM", "min", d_te, minutes(d_te), col(test, "Dist_min"))
    report(
        "minutes (OSRM-fitted) vs OSRM",
        "min",
        d_te,
        minutes(d_te, "Dist_min"),
        col(test, "Dist_min"),
    )
    report("for scale: OSRM minutes vs Metric off-peak", "min", d_te, col(test, "Dist_min"), col(test, "HC"))

    print("\n== reference values for src/analysis/travel.rs tests (straight metres -> road km, Metric minutes)")
    for metres in [0.0, 500.0, 3_000.0, 10_000.0, 25_000.0, 50_000.0, 100_000.0, 300_000.0]:
        km = np.array([metres / 1000.0])
        print(f"  ({metres!r}, {road_km(km)[0]!r}, {minutes(km)[0]!r}),")


def band_counts(df: pd.DataFrame) -> str:
    counts = np.histogram(df["straight_km"], BANDS_KM)[0]
    return ", ".join(
        f"{lo:g}-{hi:g}: {n}" if np.isfinite(hi) else f"{lo:g}+: {n}"
        for lo, hi, n in zip(BANDS_KM[:-1], BANDS_KM[1:], counts)
    )


def check_monotone(detour: np.ndarray, speeds: np.ndarray) -> None:
    ok = (detour >= 1.0).all() and (np.diff(speeds) >= 0).all() and (speeds > 0).all()
    print(f"  detour >= 1 in every band and speeds rising with distance: {ok}")
    if not ok:
        sys.exit("fitted constants break the model's assumptions: revisit the breakpoints")


if __name__ == "__main__":
    main()
