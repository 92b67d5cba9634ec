#!/usr/bin/env python3
"""Peer figures for careaccess's Rust benchmarks (`cargo bench --bench analysis`).

Times Python GIS tools on the same built data set, so the figures can be put side by
side with criterion's. Requires Python >= 3.10 and the PyPI packages geopandas,
shapely >= 2 (GEOS >= 3.10), pyogrio, pyproj, numpy, pandas and access (PySAL):

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install geopandas "shapely>=2" \
        pyogrio pyproj numpy pandas access
    /tmp/peer/bin/python benches/peer_nearest.py [BUILD_DIR] [--runs N]

BUILD_DIR is a built data set (FlatGeobuf, WGS84): default $CAREACCESS_DATA/current,
else geodata/current next to this script's crate. Each figure is the median of N runs
(default 7, at least 5) after one warm-up, in ms (time.perf_counter).

What is measured (see benches/README.md for the meaning of each figure):

1. Nearest facility for every commune (reference point ref_lon/ref_lat), per kind
   (ehpad, hospital, msp), on points projected to Lambert-93 (EPSG:2154), so only
   communes and sites inside EPSG:2154's area of use (metropolitan France) are kept;
   the projection is timed apart. (a) geopandas.sjoin_nearest (its spatial index is
   cached on the frame after the warm-up; it returns every tied site);
   (b) shapely.STRtree(sites).query_nearest(all_matches=False: one site per commune),
   with and without building the tree. Both also return the distance.
2. 2SFCA over EHPAD, 20 km catchment, weight 1 inside: (a) pair search = STRtree
   dwithin 20 km query, the distances and the origin/dest/cost frame; (b) PySAL
   Access.two_stage_fca(max_cost=20 km, no weight function = weight 1 within max_cost),
   supply = capacite (missing counted as 0), demand = population.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import shapely
from access import Access

from peer_common import cpu_model, pkg_version, timed

KINDS = ("ehpad", "hospital", "msp")
METRIC_CRS = "EPSG:2154"
CATCHMENT_M = 20_000.0
PACKAGES = ("geopandas", "shapely", "pyogrio", "pyproj", "numpy", "pandas", "access")


def default_dir():
    env = os.environ.get("CAREACCESS_DATA")
    base = Path(env) if env else Path(__file__).resolve().parent.parent / "geodata"
    return base / "current"


def in_area(lon, lat, bounds):
    w, s, e, n = bounds
    return (lon > w) & (lon < e) & (lat > s) & (lat < n)


def load_communes(build):
    df = gpd.read_file(
        build / "communes.fgb",
        columns=["code", "population", "ref_lon", "ref_lat"],
        read_geometry=False,
    )
    total = len(df)
    df = df.dropna(subset=["ref_lon", "ref_lat"]).reset_index(drop=True)
    df["population"] = df["population"].fillna(0).astype(float)
    return df, total


def load_sites(build, kind):
    gdf = gpd.read_file(build / f"{kind}.fgb", columns=["id", "capacite"])
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()].reset_index(drop=True)
    return gdf


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", type=Path, default=default_dir())
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    runs = max(args.runs, 5)
    build = args.build
    if not (build / "communes.fgb").exists():
        sys.exit(f"no communes.fgb in {build}: build the data first (careaccess data build)")

    area = pyproj.CRS(METRIC_CRS).area_of_use.bounds  # (west, south, east, north)
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)

    communes, n_communes_file = load_communes(build)
    n_with_ref = len(communes)
    metro = in_area(communes["ref_lon"], communes["ref_lat"], area)
    communes = communes[metro].reset_index(drop=True)
    lon, lat = communes["ref_lon"].to_numpy(), communes["ref_lat"].to_numpy()

    def project_communes():
        x, y = to_metric.transform(lon, lat)
        return shapely.points(x, y)

    t_proj_communes, c_pts = timed(project_communes, runs)
    c_gdf = gpd.GeoDataFrame(communes[["code", "population"]], geometry=c_pts, crs=METRIC_CRS)

    rows = []  # (section, what, figure)
    notes = [
        f"communes in file: {n_communes_file}; with a reference point: {n_with_ref}; "
        f"inside EPSG:2154's area of use {tuple(round(b, 2) for b in area)}: {len(communes)}",
    ]
    rows.append(("projection", f"communes to EPSG:2154 ({len(communes)} points)", t_proj_communes))

    sites = {}
    for kind in KINDS:
        path = build / f"{kind}.fgb"
        if not path.exists():
            notes.append(f"{kind}: no {path.name}, skipped")
            continue
        gdf = load_sites(build, kind)
        keep = in_area(gdf.geometry.x, gdf.geometry.y, area)
        n_all = len(gdf)
        gdf = gdf[keep].reset_index(drop=True)
        t_proj, projected = timed(lambda g=gdf: g.to_crs(METRIC_CRS), runs)
        sites[kind] = projected
        notes.append(f"{kind}: {n_all} sites, {len(gdf)} inside the area of use")
        rows.append(("projection", f"{kind} sites to EPSG:2154 ({len(gdf)} points)", t_proj))

    # 1. Nearest site for every commune.
    for kind, s_gdf in sites.items():
        if s_gdf.empty:
            continue
        s_pts = s_gdf.geometry.values
        label = f"{kind} ({len(s_gdf)} sites, {len(c_gdf)} communes)"
        t_sjoin, joined = timed(
            lambda s=s_gdf: gpd.sjoin_nearest(c_gdf, s[["id", "geometry"]], distance_col="d_m"),
            runs,
        )
        t_tree_query, _ = timed(
            lambda p=s_pts: shapely.STRtree(p).query_nearest(
                c_pts, return_distance=True, all_matches=False
            ),
            runs,
        )
        tree = shapely.STRtree(s_pts)
        t_query, (pairs, _) = timed(
            lambda: tree.query_nearest(c_pts, return_distance=True, all_matches=False), runs
        )
        rows.append(("nearest", f"{label}: geopandas sjoin_nearest", t_sjoin))
        rows.append(("nearest", f"{label}: shapely STRtree build + query_nearest", t_tree_query))
        rows.append(("nearest", f"{label}: shapely query_nearest (tree built)", t_query))
        notes.append(
            f"nearest {kind}: sjoin_nearest gives {len(joined)} rows (every tied site), "
            f"STRtree {pairs.shape[1]} (one per commune, all_matches=False)"
        )

    # 2. 2SFCA over EHPAD, 20 km catchment.
    if "ehpad" in sites and not sites["ehpad"].empty:
        e_gdf = sites["ehpad"]
        e_pts = e_gdf.geometry.values
        missing = int(e_gdf["capacite"].isna().sum())
        supply = pd.DataFrame(
            {"id": e_gdf["id"].to_numpy(), "capacite": e_gdf["capacite"].fillna(0.0).to_numpy()}
        )
        demand = pd.DataFrame(
            {"code": communes["code"].to_numpy(), "population": communes["population"].to_numpy()}
        )
        codes, ids = demand["code"].to_numpy(), supply["id"].to_numpy()

        def pair_search():
            ci, si = shapely.STRtree(e_pts).query(c_pts, predicate="dwithin", distance=CATCHMENT_M)
            d_km = shapely.distance(c_pts[ci], e_pts[si]) / 1000.0
            return pd.DataFrame({"origin": codes[ci], "dest": ids[si], "cost": d_km})

        t_pairs, cost = timed(pair_search, runs)

        def fresh():
            return Access(
                demand_df=demand,
                demand_index="code",
                demand_value="population",
                supply_df=supply,
                supply_index="id",
                supply_value="capacite",
                cost_df=cost,
                cost_origin="origin",
                cost_dest="dest",
                cost_name="cost",
            )

        # A fresh Access object per run (not timed), so no run overwrites another's column.
        times, result = [], None
        for i in range(runs + 1):
            acc = fresh()
            t = time.perf_counter()
            result = acc.two_stage_fca(name="2sfca", max_cost=CATCHMENT_M / 1000.0)
            if i:
                times.append((time.perf_counter() - t) * 1000.0)
        t_fca = statistics.median(times)
        reached = int(result["2sfca_capacite"].notna().sum())
        label = f"ehpad 20 km ({len(cost)} pairs)"
        what = "pair search (STRtree dwithin + distances + frame)"
        rows.append(("2SFCA", f"{label}: {what}", t_pairs))
        rows.append(("2SFCA", f"{label}: PySAL two_stage_fca", t_fca))
        rows.append(("2SFCA", f"{label}: total", t_pairs + t_fca))
        notes.append(
            f"2SFCA: {len(cost)} commune-EHPAD pairs within 20 km; {missing} of {len(e_gdf)} "
            f"EHPAD without capacite counted as supply 0; {reached} communes with a value"
        )

    # 3. Report.
    print(f"# careaccess peer figures: {build.resolve()}\n")
    print(f"Median of {runs} runs after one warm-up, ms (planar distances in EPSG:2154).\n")
    print("| section | what | ms |")
    print("| --- | --- | ---: |")
    for section, what, ms in rows:
        print(f"| {section} | {what} | {ms:.2f} |")
    print()
    for n in notes:
        print(f"- {n}")
    print()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"- machine: nproc {cpus}, {cpu_model()}, {platform.system()} {platform.machine()}")
    print(f"- Python {platform.python_version()}; GEOS {shapely.geos_version_string}; "
          + ", ".join(f"{p} {pkg_version(p)}" for p in PACKAGES))


if __name__ == "__main__":
    main()
