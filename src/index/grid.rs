//! A latitude/longitude cell grid over points, for thousands of fixed-radius searches
//! (the 2SFCA catchments): it answers exactly what [`super::PointIndex::within`]
//! answers (chord, then geodesic from the chord, `<= radius`, with the same functions and
//! the same bits), several times faster than as many R-tree queries.
//!
//! Points are sorted by cell (row of latitude, then column of longitude, then the
//! caller's index) and each row keeps the start of each of its cells, so a search goes
//! straight to the first point of each row of its window and scans on: no search over
//! the whole point list. Windows that would cross the antimeridian or come near a pole
//! are not handled (the caller uses the R-tree).

use crate::geodesy::{GeoPoint, WGS84_A, WGS84_F, geodesic_from_chord};

/// Cell size, degrees of latitude and longitude.
pub const GRID_CELL_DEG: f64 = 0.05;

/// Smallest radius of curvature of the WGS84 ellipsoid (meridional, at the equator):
/// a geodesic of length `r` changes latitude by at most `r / M_MIN` radians.
const M_MIN: f64 = WGS84_A * (1.0 - WGS84_F * (2.0 - WGS84_F));

/// One row of cells that holds points.
#[derive(Debug, Clone)]
struct Row {
    row: i64,
    col_min: i64,
    col_max: i64,
    /// Where the row's cell starts are in `cell_start`.
    base: usize,
}

/// Points bucketed in [`GRID_CELL_DEG`] cells.
#[derive(Debug, Clone, Default)]
pub struct CellGrid {
    /// Points in grid order: cell row, cell column, caller index.
    points: Vec<GeoPoint>,
    /// Caller index of each point.
    ids: Vec<u32>,
    /// Grid-order position of each caller index (`u32::MAX`: no point).
    rank: Vec<u32>,
    /// Rows with points, south to north.
    rows: Vec<Row>,
    /// For each row, the position of the first point of each cell from `col_min` to
    /// `col_max`, then one past its last point.
    cell_start: Vec<u32>,
}

fn cell(deg: f64) -> i64 {
    (deg / GRID_CELL_DEG).floor() as i64
}

/// Longitude in [-180, 180).
fn wrap_lon(lon: f64) -> f64 {
    (lon + 180.0).rem_euclid(360.0) - 180.0
}

impl CellGrid {
    /// The grid over `points` (caller index = position in the slice; `None`: no point).
    pub fn new(points: &[Option<GeoPoint>]) -> CellGrid {
        let mut items: Vec<(i64, i64, u32)> = points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let p = p.as_ref()?;
                Some((cell(p.lat), cell(wrap_lon(p.lon)), i as u32))
            })
            .collect();
        items.sort_unstable();
        let mut grid = CellGrid {
            rank: vec![u32::MAX; points.len()],
            ..CellGrid::default()
        };
        for (r, &(_, _, i)) in items.iter().enumerate() {
            grid.rank[i as usize] = r as u32;
            grid.ids.push(i);
            if let Some(p) = points[i as usize] {
                grid.points.push(p);
            }
        }
        let mut k = 0;
        while k < items.len() {
            let row = items[k].0;
            let end = k + items[k..].partition_point(|it| it.0 == row);
            let (col_min, col_max) = (items[k].1, items[end - 1].1);
            let base = grid.cell_start.len();
            let mut at = k;
            for col in col_min..=col_max {
                while at < end && items[at].1 < col {
                    at += 1;
                }
                grid.cell_start.push(at as u32);
            }
            grid.cell_start.push(end as u32);
            grid.rows.push(Row {
                row,
                col_min,
                col_max,
                base,
            });
            k = end;
        }
        grid
    }

    /// Position of a caller index in the grid order (the order in which
    /// [`CellGrid::within`] visits points); `None` without a point.
    pub fn rank(&self, index: usize) -> Option<u32> {
        self.rank.get(index).copied().filter(|&r| r != u32::MAX)
    }

    /// Calls `hit(index, geodesic metres)` for every point within `r` of `q` that `keep`
    /// accepts, in grid order; `false` when the window is not handled (antimeridian,
    /// poles): use the R-tree.
    pub fn within(
        &self,
        q: &GeoPoint,
        r: f64,
        keep: impl Fn(u32) -> bool,
        mut hit: impl FnMut(u32, f64),
    ) -> bool {
        let dlat = (r / M_MIN).to_degrees() * (1.0 + 1e-9) + 1e-9;
        let lat_max = q.lat.abs() + dlat;
        if lat_max >= 89.0 {
            return false;
        }
        // Along a parallel, the radius of curvature is N·cos φ ≥ a·cos φ.
        let dlon = (r / (WGS84_A * lat_max.to_radians().cos())).to_degrees() * (1.0 + 1e-9) + 1e-9;
        let lon = wrap_lon(q.lon);
        if lon - dlon < -180.0 || lon + dlon >= 180.0 {
            return false;
        }
        let (c0, c1) = (cell(lon - dlon), cell(lon + dlon));
        let (r0, r1) = (cell(q.lat - dlat), cell(q.lat + dlat));
        let r2 = r * r;
        let first = self.rows.partition_point(|row| row.row < r0);
        for row in self.rows[first..].iter().take_while(|row| row.row <= r1) {
            let (a, b) = (c0.max(row.col_min), c1.min(row.col_max));
            if a > b {
                continue;
            }
            let start = self.cell_start[row.base + (a - row.col_min) as usize] as usize;
            let end = self.cell_start[row.base + (b - row.col_min) as usize + 1] as usize;
            for (p, &id) in self.points[start..end].iter().zip(&self.ids[start..end]) {
                let d = [
                    q.ecef[0] - p.ecef[0],
                    q.ecef[1] - p.ecef[1],
                    q.ecef[2] - p.ecef[2],
                ];
                let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                if d2 <= r2 && keep(id) {
                    let g = geodesic_from_chord(q, p, d2.sqrt());
                    if g <= r {
                        hit(id, g);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::PointIndex;

    use crate::test_support::rng;

    /// Same points and same distance bits as the R-tree, in grid order; the windows it
    /// leaves out are near the antimeridian.
    #[test]
    fn grid_equals_rtree_within() {
        let mut r = rng(5);
        let mut pts: Vec<Option<GeoPoint>> = (0..3_000)
            .map(|i| match i % 6 {
                0 => Some(GeoPoint::new(55.2 + 0.6 * r(), -21.4 + 0.5 * r())),
                1 => Some(GeoPoint::new(
                    179.7 + 0.6 * r() - if r() < 0.5 { 360.0 } else { 0.0 },
                    -14.0 + 0.5 * r(),
                )),
                2 => Some(GeoPoint::new(-61.8 + 0.7 * r(), 15.8 + 0.7 * r())),
                // Saint-Pierre-et-Miquelon shares the mainland's rows.
                3 => Some(GeoPoint::new(-56.4 + 0.3 * r(), 46.7 + 0.4 * r())),
                _ => Some(GeoPoint::new(-5.0 + 13.0 * r(), 42.0 + 9.0 * r())),
            })
            .collect();
        pts.push(None);
        let keep = |i: u32| i % 11 != 3;
        let ids: Vec<usize> = (0..pts.len()).filter(|&i| pts[i].is_some()).collect();
        let index = PointIndex::new(ids.iter().filter_map(|&i| pts[i]).collect());
        let grid = CellGrid::new(&pts);
        let (mut fallbacks, mut checked) = (0, 0);
        for radius in [1_000.0, 20_000.0, 43_333.0, 97_500.0] {
            for k in 0..400 {
                let q = pts[(k * 7) % 3_000].unwrap();
                let q = GeoPoint::new(q.lon + 0.01 * (r() - 0.5), q.lat + 0.01 * (r() - 0.5));
                let mut want: Vec<(u32, u64)> = index
                    .within(&q, radius)
                    .filter(|h| keep(ids[h.index] as u32))
                    .map(|h| (ids[h.index] as u32, h.distance_m.to_bits()))
                    .collect();
                want.sort_unstable();
                let mut got = Vec::new();
                if grid.within(&q, radius, keep, |c, d| got.push((c, d.to_bits()))) {
                    // Visited in grid order.
                    let ranks: Vec<u32> =
                        got.iter().filter_map(|h| grid.rank(h.0 as usize)).collect();
                    assert!(ranks.windows(2).all(|w| w[0] < w[1]));
                    got.sort_unstable();
                    assert_eq!(got, want, "radius {radius} at {q:?}");
                    checked += want.len();
                } else {
                    assert!(q.lon.abs() > 179.0, "{q:?}");
                    fallbacks += 1;
                }
            }
        }
        assert!(fallbacks > 0 && fallbacks < 400, "{fallbacks}");
        assert!(checked > 10_000, "{checked}");
        assert_eq!(grid.rank(3_000), None);
    }

    #[test]
    fn empty_grid() {
        let grid = CellGrid::new(&[None, None]);
        let q = GeoPoint::new(0.0, 46.0);
        assert!(grid.within(&q, 10_000.0, |_| true, |_, _| panic!("no point")));
        assert_eq!(grid.rank(0), None);
    }
}
