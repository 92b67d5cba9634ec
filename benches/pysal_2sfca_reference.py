#!/usr/bin/env python3
"""Reference values of the 2SFCA from PySAL `access`, for careaccess's Rust tests.

Requires: Python >= 3.10, the PyPI package "access" (PySAL; it pulls in pandas,
numpy, geopandas) and pyproj:

    python3 -m venv /tmp/pysal && /tmp/pysal/bin/pip install access==1.1.10.post3 pyproj
    /tmp/pysal/bin/python benches/pysal_2sfca_reference.py [OUT_DIR]

OUT_DIR defaults to tests/fixtures/access (next to this script's crate). It writes:

- profile.toml: the accessibility profile (km steps), read by the Rust test with
  `Profile::from_toml`, so the steps are written once, here;
- demand.csv: id (an INSEE-like commune code), lon, lat, population;
- supply.csv: id, lon, lat, capacity;
- pysal_expected.csv: id, access = PySAL `Access.two_stage_fca` for each demand point
  (empty where PySAL has no value: no supply within the catchment; careaccess gives 0).

What it does (deterministic: Python's `random.Random(SEED)`, stable across versions):

1. Draws 8 supply points and 30 demand points over about 38 x 33 km in Deux-Sevres,
   coordinates rounded to 1e-6 degrees (the files hold exactly the values used), plus
   one demand point far east that no site reaches.
2. Takes geodesic distances with pyproj `Geod(ellps="WGS84").inv` (careaccess's own
   geodesic agrees within 5 cm under 150 km) and redraws any demand point within
   EDGE_MARGIN_M of a step bound from any site, so both sides put every pair in the
   same step and the results must agree to rounding.
3. Runs PySAL: cost_df = every (demand, supply) pair with cost = km, weight_fn =
   `access.weights.step_fn` with the same steps (inclusive bounds, 0 beyond), max_cost =
   the last step, normalize=False (raw ratios: PySAL's `two_stage_fca` applies the
   weight in both steps: R_j = S_j / sum_k w(d_kj) P_k, A_i = sum_j w(d_ij) R_j).
4. Recomputes the same numbers with plain Python loops and checks PySAL agrees (1e-12
   relative), then writes the files with repr() floats (exact round trip).
"""

import csv
import os
import platform
import random
import sys

import numpy
import pandas
import pyproj
from importlib.metadata import version

from access import Access, weights

SEED = 20_260_601
# (upto km, weight as written in profile.toml): weights are fractions, evaluated as
# float(a) / float(b) on both sides.
STEPS = [(5.0, "1"), (10.0, "2/3"), (15.0, "1/3")]
EDGE_MARGIN_M = 1.0
N_SUPPLY = 8
N_DEMAND = 30
BOX_DEMAND = (-0.50, 0.00, 46.60, 46.90)  # lon min, lon max, lat min, lat max
BOX_SUPPLY = (-0.45, -0.05, 46.62, 46.88)
FAR_POINT = (0.65, 46.75)  # about 50 km east of the box: reached by no site

GEOD = pyproj.Geod(ellps="WGS84")


def weight_value(text):
    if "/" in text:
        a, b = text.split("/")
        return float(a) / float(b)
    return float(text)


def distance_m(a, b):
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def draw(rng, box):
    return (round(rng.uniform(box[0], box[1]), 6), round(rng.uniform(box[2], box[3]), 6))


def near_edge(d):
    return any(abs(d - upto * 1000.0) <= EDGE_MARGIN_M for upto, _ in STEPS)


def build_fixture():
    rng = random.Random(SEED)
    supply = []
    for j in range(N_SUPPLY):
        supply.append((f"S{j + 1:02d}", *draw(rng, BOX_SUPPLY), float(rng.randint(20, 120))))
    demand = []
    for i in range(N_DEMAND):
        while True:
            p = draw(rng, BOX_DEMAND)
            if not any(near_edge(distance_m(p, (s[1], s[2]))) for s in supply):
                break
        demand.append((f"79{i + 1:03d}", *p, float(rng.randint(100, 5000))))
    far = FAR_POINT
    last = STEPS[-1][0] * 1000.0
    assert all(distance_m(far, (s[1], s[2])) > last + 1000.0 for s in supply)
    demand.append((f"79{N_DEMAND + 1:03d}", *far, 1234.0))
    for s in supply:
        assert any(distance_m((d[1], d[2]), (s[1], s[2])) <= last for d in demand), s
    return demand, supply


def by_hand(demand, supply, fn):
    """The 2SFCA with plain loops, as a check on how PySAL is called."""
    last = STEPS[-1][0]
    cost = {
        (d[0], s[0]): distance_m((d[1], d[2]), (s[1], s[2])) / 1000.0
        for d in demand
        for s in supply
    }
    ratio = {}
    for s in supply:
        tot = sum(fn(cost[d[0], s[0]]) * d[3] for d in demand if cost[d[0], s[0]] <= last)
        ratio[s[0]] = s[3] / tot
    return {
        d[0]: sum(fn(cost[d[0], s[0]]) * ratio[s[0]] for s in supply if cost[d[0], s[0]] <= last)
        for d in demand
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures", "access")
    os.makedirs(out, exist_ok=True)
    demand, supply = build_fixture()

    fn = weights.step_fn({upto: weight_value(w) for upto, w in STEPS})
    demand_df = pandas.DataFrame(
        {"geoid": [d[0] for d in demand], "population": [d[3] for d in demand]}
    )
    supply_df = pandas.DataFrame(
        {"geoid": [s[0] for s in supply], "capacity": [s[3] for s in supply]}
    )
    cost_df = pandas.DataFrame(
        [
            (d[0], s[0], distance_m((d[1], d[2]), (s[1], s[2])) / 1000.0)
            for d in demand
            for s in supply
        ],
        columns=["origin", "dest", "cost"],
    )
    acc = Access(
        demand_df=demand_df,
        demand_index="geoid",
        demand_value="population",
        supply_df=supply_df,
        supply_index="geoid",
        supply_value="capacity",
        cost_df=cost_df,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    result = acc.two_stage_fca(name="2sfca", max_cost=STEPS[-1][0], weight_fn=fn, normalize=False)
    col = result["2sfca_capacity"]

    check = by_hand(demand, supply, fn)
    for d in demand:
        got = col.get(d[0])
        want = check[d[0]]
        if got is None or numpy.isnan(got):
            assert want == 0.0, (d, want)
        else:
            assert abs(got - want) <= 1e-12 * abs(want), (d, got, want)

    versions = (
        f"access {version('access')}, pandas {pandas.__version__}, numpy {numpy.__version__}, "
        f"pyproj {pyproj.__version__}, Python {platform.python_version()}"
    )
    header = [
        "# generated by benches/pysal_2sfca_reference.py (do not edit by hand); synthetic data",
        f"# {versions}; seed {SEED}",
    ]
    steps_toml = ",\n".join(
        f'    {{ upto = {upto}, weight = "{w}" }}' for upto, w in STEPS
    )
    with open(os.path.join(out, "profile.toml"), "w", encoding="utf-8") as f:
        f.write("\n".join(header) + "\n")
        f.write(
            'title = "PySAL access 2SFCA reference fixture"\n'
            'unit = "km"\n'
            f"steps = [\n{steps_toml},\n]\n"
            'supply = { kind = "ehpad", per_site = "capacity" }\n'
            "supply_scale = 1.0\n"
            "result_scale = 1.0\n"
            'unit_label = "capacity per inhabitant"\n'
            'demand = "population"\n'
        )
    for name, cols, rows in [
        ("demand.csv", ["id", "lon", "lat", "population"], demand),
        ("supply.csv", ["id", "lon", "lat", "capacity"], supply),
    ]:
        with open(os.path.join(out, name), "w", newline="", encoding="utf-8") as f:
            f.write("\n".join(header) + "\n")
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            for r in rows:
                w.writerow([r[0], repr(r[1]), repr(r[2]), repr(r[3])])
    with open(os.path.join(out, "pysal_expected.csv"), "w", newline="", encoding="utf-8") as f:
        f.write("\n".join(header) + "\n")
        f.write(f"# access = Access.two_stage_fca(max_cost={STEPS[-1][0]}, weight_fn=step_fn(steps), normalize=False); empty = no supply within reach\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "access"])
        for d in demand:
            v = col.get(d[0])
            w.writerow([d[0], "" if v is None or numpy.isnan(v) else repr(float(v))])
    print(f"wrote {out}: {len(demand)} demand points, {len(supply)} sites; {versions}")


if __name__ == "__main__":
    main()
