#!/usr/bin/env python3
"""End to end: `careaccess nearest --kind hospital --out f.csv` against geopandas.

The same question on the same built files, side by side in one run: for every commune,
its nearest hospital, written to a CSV. Requires Python >= 3.10 and the PyPI packages
geopandas, shapely >= 2, pyogrio, pyproj (the venv of benches/peer_nearest.py):

    /tmp/peer/bin/python benches/peer_cli_nearest.py [--bin target/release/careaccess]
        [--data geodata] [--kind hospital] [--runs N]

Three figures, each the median of N runs (default 11, at least 5) after one warm-up:

1. careaccess: the command as a user types it, a fresh process each run (it loads the
   build, finds the nearest structure of every commune in its reachability zone and writes
   the CSV).
2. geopandas, work: in this process, read the two FlatGeobuf files (`communes_points.fgb`,
   the communes at their reference points, and `<kind>.fgb`), project them to Lambert-93
   (EPSG:2154, so metropolitan France only: the peer answers for fewer communes), run
   `sjoin_nearest` with the distance, and write the CSV. Python and the imports are
   already loaded: the most favourable figure for the peer.
3. geopandas, process: the same work as a fresh `python -c` each run, imports included,
   the peer of figure 1 as a user would run it.

Prints a Markdown table, the ratios and the machine (nproc, CPU, versions).
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from peer_common import cpu_model, pkg_version, timed

ROOT = Path(__file__).resolve().parent.parent

# The peer's work, run in this process (figure 2) and in a fresh one (figure 3).
WORK = """
import geopandas as gpd
import pyproj

def work(build, kind, out):
    communes = gpd.read_file(build / "communes_points.fgb", columns=["code", "nom", "population"])
    sites = gpd.read_file(build / f"{kind}.fgb", columns=["id", "nom"])
    w, s, e, n = pyproj.CRS("EPSG:2154").area_of_use.bounds
    communes = communes.cx[w:e, s:n].to_crs("EPSG:2154")
    sites = sites.cx[w:e, s:n].to_crs("EPSG:2154")
    joined = gpd.sjoin_nearest(communes, sites, distance_col="distance_m")
    joined = joined.drop_duplicates("code")
    joined[["code", "nom_left", "population", "id", "nom_right", "distance_m"]].to_csv(out, index=False)
    return len(joined)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, default=ROOT / "target" / "release" / "careaccess")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CAREACCESS_DATA", ROOT / "geodata")))
    ap.add_argument("--kind", default="hospital")
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    runs = max(args.runs, 5)
    build = args.data / "current"
    if not (build / "communes_points.fgb").exists():
        sys.exit(f"no communes_points.fgb in {build}: build the data first (careaccess data build)")
    if not args.bin.exists():
        sys.exit(f"no {args.bin}: cargo build --release first")

    with tempfile.TemporaryDirectory() as tmp:
        ours_csv = Path(tmp) / "careaccess.csv"
        peer_csv = Path(tmp) / "geopandas.csv"
        cmd = [str(args.bin), "--data-dir", str(args.data), "nearest", "--kind", args.kind, "--out", str(ours_csv)]
        t_ours, _ = timed(lambda: subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL), runs)
        ours_rows = sum(1 for line in ours_csv.open() if not line.startswith("#")) - 1

        scope = {}
        exec(WORK, scope)
        t_work, peer_rows = timed(lambda: scope["work"](build, args.kind, peer_csv), runs)

        script = WORK + f"\nfrom pathlib import Path\nwork(Path({str(build)!r}), {args.kind!r}, {str(peer_csv)!r})\n"
        t_proc, _ = timed(lambda: subprocess.run([sys.executable, "-c", script], check=True), runs)

    print(f"## nearest {args.kind} for every commune, written to a CSV (median of {runs} runs, ms)\n")
    print("| run | communes answered | ms | careaccess faster by |")
    print("|---|---|---|---|")
    print(f"| `careaccess nearest --kind {args.kind} --out f.csv` (process) | {ours_rows} | {t_ours:.1f} | — |")
    print(f"| geopandas read + sjoin_nearest + CSV (work, in process) | {peer_rows} | {t_work:.1f} | {t_work / t_ours:.1f}× |")
    print(f"| the same as a fresh `python -c` (process, imports included) | {peer_rows} | {t_proc:.1f} | {t_proc / t_ours:.1f}× |")
    print()
    print(
        f"machine: nproc {os.cpu_count()}, {cpu_model()}; Python {platform.python_version()}; "
        + ", ".join(f"{p} {pkg_version(p)}" for p in ("geopandas", "shapely", "pyogrio", "pyproj", "pandas"))
    )


if __name__ == "__main__":
    main()
