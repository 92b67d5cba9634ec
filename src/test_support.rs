//! Builders shared by the unit tests: a seeded random sequence, communes, facilities and
//! engines made of them.

use geo::Point;

use crate::analysis::Engine;
use crate::model::{
    Commune, Dataset, Demand, Facility, InseeCode, Kind, PositionQuality, Profile, RefPointSource,
    Step, StepUnit, Supply, SupplySource, Territory, TerritoryType,
};

/// Deterministic pseudo-random numbers in [0, 1) (xorshift64): the same sequence for a
/// seed on every machine, with no dependency.
pub(crate) fn rng(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A commune of the département `code[..2]` in région 75, with no EPCI, whose reference
/// point is its mairie at (`lon`, `lat`).
pub(crate) fn commune(code: &str, lon: f64, lat: f64, population: u32) -> Commune {
    Commune {
        code: InseeCode::parse(code).unwrap_or_else(|e| panic!("test commune {code}: {e}")),
        name: format!("Commune {code}"),
        population,
        departement: code[..2].to_owned(),
        region: "75".to_owned(),
        epci: None,
        zone: None,
        ref_point: Some(Point::new(lon, lat)),
        ref_point_source: Some(RefPointSource::Mairie),
        geometry: None,
    }
}

/// A site of `kind` at a geocoded address, in no commune.
pub(crate) fn facility(
    id: &str,
    kind: Kind,
    lon: f64,
    lat: f64,
    capacity: Option<f64>,
) -> Facility {
    Facility {
        id: id.to_owned(),
        finess: None,
        kind,
        category: None,
        category_label: None,
        name: format!("Site {id}"),
        address: None,
        commune: None,
        capacity,
        phone: None,
        position: Point::new(lon, lat),
        position_quality: PositionQuality::Address,
        source: "test".to_owned(),
        partial_list: false,
        source_line: 0,
    }
}

/// A data set in the order the loader gives (communes by code, facilities by kind then
/// id), with one territory, the Deux-Sèvres, listing every commune.
pub(crate) fn dataset(mut communes: Vec<Commune>, mut facilities: Vec<Facility>) -> Dataset {
    communes.sort_by(|a, b| a.code.cmp(&b.code));
    facilities.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    let territories = vec![Territory {
        kind: TerritoryType::Departement,
        code: "79".to_owned(),
        name: "Deux-Sèvres".to_owned(),
        communes: communes.iter().map(|c| c.code.clone()).collect(),
    }];
    Dataset {
        build_id: "test".to_owned(),
        communes,
        facilities,
        territories,
        ..Dataset::default()
    }
}

/// [`dataset`] with its engine.
pub(crate) fn engine(communes: Vec<Commune>, facilities: Vec<Facility>) -> Engine {
    Engine::new(dataset(communes, facilities))
}

/// An EHPAD profile with these steps (upto, weight), supply and demand, scales 1, and the
/// caveat "données de test".
pub(crate) fn ehpad_profile(
    unit: StepUnit,
    steps: &[(f64, f64)],
    per_site: Supply,
    demand: Demand,
) -> Profile {
    Profile {
        id: "test".to_owned(),
        title: "test".to_owned(),
        unit,
        steps: steps
            .iter()
            .map(|&(upto, weight)| Step { upto, weight })
            .collect(),
        supply: SupplySource::Facilities {
            kind: Kind::Ehpad,
            per_site,
        },
        supply_scale: 1.0,
        result_scale: 1.0,
        unit_label: "places/habitant".to_owned(),
        demand,
        caveat: Some("données de test".to_owned()),
    }
}

/// A closed star-shaped ring around (cx, cy), counterclockwise: one vertex per radius, at
/// evenly spaced angles (random polygons for property tests).
pub(crate) fn star_ring(cx: f64, cy: f64, radii: &[f64]) -> geo::LineString<f64> {
    let n = radii.len() as f64;
    let mut pts: Vec<(f64, f64)> = radii
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let a = i as f64 / n * std::f64::consts::TAU;
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    pts.push(pts[0]);
    pts.into()
}
