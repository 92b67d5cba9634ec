//! Reachability zones: the communes one can drive between. Two communes whose polygons
//! share a boundary are in the same zone; so are the two ends of a road link declared in
//! `sources.toml` (the bridges to Ré, Oléron and Noirmoutier, the Rivière Salée between
//! Basse-Terre and Grande-Terre). Everything else the sea separates: Corsica, each overseas
//! département, and each island without a bridge (Yeu, Belle-Île, Groix, Ouessant, Marie-
//! Galante, Petite-Terre…) is a zone of its own. Ferries are not road links.
//!
//! A zone is named by the code of its most populated commune (`75056` for the mainland,
//! `2A004` for Corsica, `85113` for Yeu).

use std::collections::{BTreeMap, HashMap};

use crate::model::InseeCode;

use super::communes::{Cog, Contours};
use super::sources::{ContourGap, RoadLink};
use super::{ImportError, SourceReport};

/// Boundary vertices are matched at this precision, degrees (about 10 cm): the
/// simplified contours keep the shared vertices of neighbouring communes identical.
const VERTEX_PRECISION: f64 = 1e-6;

/// Union–find over commune indices.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// The zone of every commune that has a polygon (or shares one, [`ContourGap`]).
pub fn zones(
    cog: &Cog,
    contours: &Contours,
    links: &[RoadLink],
    gaps: &[ContourGap],
    report: &mut SourceReport,
) -> Result<HashMap<InseeCode, InseeCode>, ImportError> {
    let index: HashMap<&InseeCode, usize> = cog
        .communes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.code, i))
        .collect();
    let mut sets = Sets((0..cog.communes.len()).collect());
    let mut placed = vec![false; cog.communes.len()];

    // Communes that share a boundary vertex.
    let mut vertices: Vec<(i64, i64, u32)> = Vec::new();
    for (i, c) in cog.communes.iter().enumerate() {
        let Some(g) = contours
            .communes
            .get(&c.code)
            .and_then(|k| k.geometry.as_ref())
        else {
            continue;
        };
        placed[i] = true;
        for poly in &g.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for p in &ring.0 {
                    let key = |v: f64| (v / VERTEX_PRECISION).round() as i64;
                    vertices.push((key(p.x), key(p.y), i as u32));
                }
            }
        }
    }
    vertices.sort_unstable();
    for w in vertices.windows(2) {
        if (w[0].0, w[0].1) == (w[1].0, w[1].1) {
            sets.union(w[0].2 as usize, w[1].2 as usize);
        }
    }
    drop(vertices);

    let commune = |code: &str, what: &str| {
        InseeCode::parse(code)
            .ok()
            .and_then(|c| index.get(&c).copied())
            .ok_or_else(|| {
                ImportError::Manifest(format!(
                    "{what} names {code:?}, which is not a commune of the COG in force"
                ))
            })
    };
    for link in links {
        let what = format!("road_link {:?}", link.name);
        let [a, b] = &link.communes;
        let (a, b) = (commune(a, &what)?, commune(b, &what)?);
        if !(placed[a] && placed[b]) {
            return Err(ImportError::Manifest(format!(
                "{what}: both communes need a polygon"
            )));
        }
        sets.union(a, b);
    }
    for gap in gaps {
        let what = format!("contour_gap {:?}", gap.within);
        let within = commune(&gap.within, &what)?;
        for c in &gap.communes {
            let c = commune(c, &what)?;
            sets.union(c, within);
            placed[c] = true;
        }
    }

    // Each zone is named by its most populated commune (ties: the lowest code).
    let mut best: HashMap<usize, usize> = HashMap::new();
    for i in (0..cog.communes.len()).filter(|&i| placed[i]) {
        let root = sets.find(i);
        let b = best.entry(root).or_insert(i);
        if cog.communes[i].population > cog.communes[*b].population {
            *b = i;
        }
    }
    let mut out = HashMap::new();
    let mut sizes: BTreeMap<&InseeCode, (usize, u64)> = BTreeMap::new();
    for i in (0..cog.communes.len()).filter(|&i| placed[i]) {
        let zone = &cog.communes[best[&sets.find(i)]].code;
        let s = sizes.entry(zone).or_default();
        s.0 += 1;
        s.1 += u64::from(cog.communes[i].population);
        out.insert(cog.communes[i].code.clone(), zone.clone());
    }
    let mut listed: Vec<_> = sizes.into_iter().collect();
    listed.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    report.note(format!(
        "{} reachability zones (communes linked by a shared boundary or a declared road link): {}",
        listed.len(),
        listed
            .iter()
            .map(|(z, (n, pop))| format!("{z} ({n} communes, {pop} inhabitants)"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let unplaced = placed.iter().filter(|p| !**p).count();
    if unplaced > 0 {
        report.note(format!(
            "{unplaced} communes without a polygon are in no zone (no distance is computed for them)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::communes::{CogCommune, Contour};
    use geo::{MultiPolygon, Rect, coord};

    fn cog(communes: &[(&str, u32)]) -> Cog {
        Cog {
            communes: communes
                .iter()
                .map(|&(code, population)| CogCommune {
                    code: InseeCode::parse(code).unwrap(),
                    name: code.to_owned(),
                    population,
                    departement: code[..2].to_owned(),
                    region: "52".to_owned(),
                    epci: None,
                })
                .collect(),
            former: HashMap::new(),
            arrondissements: HashMap::new(),
            epci: Vec::new(),
            departements: BTreeMap::new(),
            regions: BTreeMap::new(),
        }
    }

    /// A 0.1° square with its lower-left corner at (x, y).
    fn square(x: f64, y: f64) -> Contour {
        let r = Rect::new(coord! { x: x, y: y }, coord! { x: x + 0.1, y: y + 0.1 });
        Contour {
            geometry: Some(MultiPolygon(vec![r.to_polygon()])),
            mairie: None,
        }
    }

    /// Two neighbours share a side; an island is its own zone until a road link joins
    /// it; a commune without a polygon takes the zone of the one that covers it; zones
    /// are named by their most populated commune.
    #[test]
    fn neighbours_bridges_and_gaps() {
        let cog = cog(&[
            ("17001", 100),
            ("17002", 300),
            ("17003", 50),
            ("17004", 20),
            ("85001", 40),
        ]);
        let mut contours = Contours::default();
        for (code, x) in [
            ("17001", 0.0),
            ("17002", 0.1),
            ("17003", 0.5),
            ("85001", 0.9),
        ] {
            contours
                .communes
                .insert(InseeCode::parse(code).unwrap(), square(x, 46.0));
        }
        let zone = |links: &[RoadLink], gaps: &[ContourGap]| {
            let mut report = SourceReport::default();
            let z = zones(&cog, &contours, links, gaps, &mut report).unwrap();
            let name = |c: &str| z.get(&InseeCode::parse(c).unwrap()).map(|z| z.to_string());
            (
                ["17001", "17002", "17003", "17004", "85001"].map(name),
                report.notes,
            )
        };
        let (z, notes) = zone(&[], &[]);
        let s = |c: &str| Some(c.to_owned());
        assert_eq!(z, [s("17002"), s("17002"), s("17003"), None, s("85001")]);
        assert!(notes[0].starts_with("3 reachability zones"), "{notes:?}");
        assert!(
            notes[1].starts_with("1 communes without a polygon"),
            "{notes:?}"
        );

        let bridge = RoadLink {
            name: "pont".to_owned(),
            communes: ["17002".to_owned(), "17003".to_owned()],
        };
        let gap = ContourGap {
            communes: vec!["17004".to_owned()],
            within: "17003".to_owned(),
            note: "test".to_owned(),
        };
        let (z, _) = zone(&[bridge], &[gap]);
        assert_eq!(
            z,
            [s("17002"), s("17002"), s("17002"), s("17002"), s("85001")]
        );

        let bad = RoadLink {
            name: "nowhere".to_owned(),
            communes: ["17002".to_owned(), "17999".to_owned()],
        };
        let mut report = SourceReport::default();
        let e = zones(&cog, &contours, &[bad], &[], &mut report).unwrap_err();
        assert!(e.to_string().contains("\"17999\""), "{e}");
    }

    #[test]
    fn union_find_joins_and_keeps_the_lowest_root() {
        let mut s = Sets((0..6).collect());
        s.union(4, 2);
        s.union(2, 5);
        s.union(0, 1);
        assert_eq!(s.find(5), 2);
        assert_eq!(s.find(4), 2);
        assert_eq!(s.find(1), 0);
        assert_ne!(s.find(3), s.find(2));
    }
}
