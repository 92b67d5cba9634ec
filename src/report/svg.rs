//! The portrait's drawings as SVG strings: a projection, commune outlines defined once
//! and reused by every map (`<use>`), maps of merged colour classes with labels (the
//! locator) and stacked bars.
//!
//! Coordinates: lon/lat (WGS84) projected equirectangularly, x scaled by the cosine of
//! the latitude of the map's centre, in pixels rounded to 0.1; outlines simplified
//! (Ramer–Douglas–Peucker) at [`SIMPLIFY_PX`] pixels.

use std::fmt::Write as _;

use geo::{MapCoords, MultiPolygon, Simplify};

use super::fmt::esc;

/// Tolerance of the outlines' simplification, in pixels of the map.
pub const SIMPLIFY_PX: f64 = 0.6;

/// Sequential colour-blind-safe palette (ColorBrewer YlGnBu, 5 classes), near → far.
pub const PALETTE: [&str; 5] = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"];
/// Fill of the communes without a distance (hatched).
pub const MISSING_FILL: &str = "url(#hachures)";

/// lon/lat → pixels.
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    west: f64,
    north: f64,
    /// Pixels per degree of latitude.
    scale: f64,
    cos_lat: f64,
    pub width: f64,
    pub height: f64,
}

impl Projection {
    /// Fits `bbox` (`[west, south, east, north]`, degrees) in `width` × at most
    /// `max_height` pixels, with a margin of 4 pixels.
    pub fn fit(bbox: [f64; 4], width: f64, max_height: f64) -> Projection {
        let [w, s, e, n] = bbox;
        let cos_lat = ((s + n) / 2.0).to_radians().cos().max(0.1);
        let dx = ((e - w) * cos_lat).max(1e-6);
        let dy = (n - s).max(1e-6);
        let scale = ((width - 8.0) / dx).min((max_height - 8.0) / dy);
        Projection {
            west: w - 4.0 / (scale * cos_lat),
            north: n + 4.0 / scale,
            scale,
            cos_lat,
            width: (dx * scale + 8.0).ceil(),
            height: (dy * scale + 8.0).ceil(),
        }
    }

    pub fn xy(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            (lon - self.west) * self.cos_lat * self.scale,
            (self.north - lat) * self.scale,
        )
    }
}

/// Rounded to 0.1 pixel, written without a trailing `.0`.
fn px(out: &mut String, v: f64) {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        let _ = write!(out, "{}", r as i64);
    } else {
        let _ = write!(out, "{r:.1}");
    }
}

/// The SVG path data of a multipolygon, projected and simplified; `None` when nothing
/// is left to draw.
pub fn path(mp: &MultiPolygon<f64>, proj: &Projection) -> Option<String> {
    let mut d = String::new();
    push_path(&mut d, mp, proj, SIMPLIFY_PX, true);
    (!d.is_empty()).then_some(d)
}

/// Appends the path data of a multipolygon, projected and simplified at `tolerance_px`;
/// a polygon the simplification collapses is drawn as it was when `keep_tiny` (a commune
/// stays visible), left out otherwise (an islet on a map of France).
pub fn push_path(
    d: &mut String,
    mp: &MultiPolygon<f64>,
    proj: &Projection,
    tolerance_px: f64,
    keep_tiny: bool,
) {
    let projected = mp.map_coords(|c| {
        let (x, y) = proj.xy(c.x, c.y);
        geo::Coord { x, y }
    });
    let simple = projected.simplify(tolerance_px);
    for (p, original) in simple.0.iter().zip(&projected.0) {
        let exterior = if p.exterior().0.len() >= 4 {
            p.exterior()
        } else if keep_tiny {
            original.exterior()
        } else {
            continue;
        };
        let rings =
            std::iter::once(exterior).chain(p.interiors().iter().filter(|r| r.0.len() >= 4));
        for ring in rings {
            let coords = &ring.0[..ring.0.len().saturating_sub(1)];
            if coords.len() < 3 {
                continue;
            }
            for (k, c) in coords.iter().enumerate() {
                d.push(if k == 0 { 'M' } else { ' ' });
                px(d, c.x);
                d.push(' ');
                px(d, c.y);
            }
            d.push('Z');
        }
    }
}

/// The hidden SVG that holds the outlines (`<path id=…>`) and the hatching pattern every
/// map of the document reuses.
pub fn defs(paths: &[(String, String)]) -> String {
    let mut s = String::from(
        "<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\" focusable=\"false\"><defs>\
<pattern id=\"hachures\" patternUnits=\"userSpaceOnUse\" width=\"5\" height=\"5\" patternTransform=\"rotate(45)\">\
<rect width=\"5\" height=\"5\" fill=\"#e6e6e6\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#8c8c8c\" stroke-width=\"1.6\"/></pattern>",
    );
    for (id, d) in paths {
        let _ = write!(s, "<path id=\"{}\" d=\"{d}\"/>", esc(id));
    }
    s.push_str("</defs></svg>");
    s
}

/// A choropleth: the outlines `ids_by_fill` grouped by fill.
pub fn choropleth(
    proj: &Projection,
    title: &str,
    desc: &str,
    ids_by_fill: &[(&str, Vec<String>)],
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\"><title>{}</title><desc>{}</desc>",
        proj.width,
        proj.height,
        proj.width,
        proj.height,
        esc(title),
        esc(title),
        esc(desc)
    );
    for (fill, ids) in ids_by_fill {
        if ids.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "<g fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"0.4\" fill-rule=\"evenodd\">"
        );
        for id in ids {
            let _ = write!(s, "<use href=\"#{}\"/>", esc(id));
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

/// One colour class of a map: every shape of the class in one `<path>`.
pub struct Layer {
    pub fill: &'static str,
    pub stroke: &'static str,
    /// Stroke width, pixels.
    pub stroke_width: f64,
    /// The path data of every shape of the class, one after the other.
    pub d: String,
}

/// A place named on a map, at its projected position (pixels).
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    /// Inside the territory (dark) or around it (grey).
    pub inside: bool,
}

/// A map of merged colour classes and labels: the locator and its inset. Labels that
/// would overlap one already placed are left out (they are listed in `desc`).
pub fn map(
    proj: &Projection,
    title: &str,
    desc: &str,
    layers: &[Layer],
    labels: &[Label],
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><desc>{}</desc>",
        esc(desc),
        w = proj.width,
        h = proj.height,
        t = esc(title),
    );
    for l in layers.iter().filter(|l| !l.d.is_empty()) {
        let _ = write!(
            s,
            "<path fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\" fill-rule=\"evenodd\" d=\"{}\"/>",
            l.fill, l.stroke, l.stroke_width, l.d
        );
    }
    let mut placed: Vec<[f64; 4]> = Vec::new();
    for l in labels {
        // About 5.3 px per character at 9 px.
        let w = l.text.chars().count() as f64 * 5.3;
        let right = l.x + 4.0 + w <= proj.width;
        let (x0, anchor) = if right {
            (l.x + 4.0, "start")
        } else {
            (l.x - 4.0, "end")
        };
        let bx = if right { x0 } else { x0 - w };
        let b = [bx - 1.0, l.y - 8.0, bx + w + 1.0, l.y + 3.0];
        if b[1] < 0.0 || b[3] > proj.height || bx < 0.0 {
            continue;
        }
        if placed
            .iter()
            .any(|p| p[0] < b[2] && b[0] < p[2] && p[1] < b[3] && b[1] < p[3])
        {
            continue;
        }
        placed.push(b);
        let fill = if l.inside { "#1a1a1a" } else { "#555555" };
        let mut t = String::from("<circle cx=\"");
        px(&mut t, l.x);
        t.push_str("\" cy=\"");
        px(&mut t, l.y);
        let _ = write!(
            t,
            "\" r=\"1.8\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"0.6\"/><text x=\""
        );
        px(&mut t, x0);
        t.push_str("\" y=\"");
        px(&mut t, l.y + 3.0);
        let _ = write!(
            t,
            "\" font-size=\"9\" text-anchor=\"{anchor}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"2.4\" stroke-opacity=\"0.85\" paint-order=\"stroke\">{}</text>",
            esc(&l.text)
        );
        s.push_str(&t);
    }
    s.push_str("</svg>");
    s
}

/// Horizontal stacked bars of shares (each row's shares sum to at most 1), one row per
/// label, with the fills of `fills`.
pub fn stacked_bars(title: &str, rows: &[(String, Vec<f64>)], fills: &[&str]) -> String {
    let (label_w, bar_w, row_h) = (190.0, 420.0, 22.0);
    let height = rows.len() as f64 * row_h + 6.0;
    let width = label_w + bar_w + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    for (k, (label, shares)) in rows.iter().enumerate() {
        let y = 3.0 + k as f64 * row_h;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label)
        );
        let mut x = label_w;
        for (share, fill) in shares.iter().zip(fills) {
            let w = share.clamp(0.0, 1.0) * bar_w;
            if w > 0.0 {
                let mut r = String::new();
                r.push_str("<rect x=\"");
                px(&mut r, x);
                let _ = write!(r, "\" y=\"{y}\" width=\"");
                px(&mut r, w);
                let _ = write!(
                    r,
                    "\" height=\"{}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"0.5\"/>",
                    row_h - 4.0
                );
                s.push_str(&r);
            }
            x += w;
        }
    }
    s.push_str("</svg>");
    s
}

/// A small legend swatch.
pub fn swatch(fill: &str) -> String {
    format!(
        "<svg width=\"14\" height=\"14\" aria-hidden=\"true\"><rect width=\"14\" height=\"14\" fill=\"{fill}\" stroke=\"#666666\" stroke-width=\"0.5\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projection_fits_and_paths_are_rounded() {
        let p = Projection::fit([0.0, 46.0, 1.0, 47.0], 400.0, 400.0);
        assert!(p.width <= 400.0 && p.height <= 400.0);
        let (x, y) = p.xy(0.0, 47.0);
        assert!((x - 4.0).abs() < 1e-9 && (y - 4.0).abs() < 1e-9);
        let ring = geo::LineString::from(vec![
            (0.0, 46.0),
            (1.0, 46.0),
            (1.0, 47.0),
            (0.0, 47.0),
            (0.0, 46.0),
        ]);
        let mp = geo::MultiPolygon(vec![geo::Polygon::new(ring, vec![])]);
        let d = path(&mp, &p).unwrap();
        assert!(d.starts_with('M') && d.ends_with('Z'), "{d}");
        assert!(
            !d.contains(".0 ") && d.split(' ').all(|t| t.len() < 8),
            "{d}"
        );
    }
}
