//! The document's frame: print stylesheet, numbered figures and tables, cells that carry
//! their exact value in `data-value`.

use std::fmt::Write as _;

use super::fmt::{dec, esc, int, pct};

/// A4 print stylesheet and screen layout; nothing is loaded from elsewhere.
pub(crate) const CSS: &str = r#"
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; line-height: 1.4; color: #1a1a1a; max-width: 190mm; margin: 0 auto; padding: 8mm 4mm; }
h1 { font-size: 20pt; margin: 0 0 2mm; color: #253494; }
h2 { font-size: 14pt; margin: 6mm 0 2mm; color: #253494; border-bottom: 1.5pt solid #253494; }
h3 { font-size: 11.5pt; margin: 5mm 0 1.5mm; }
h2, h3, caption, figcaption, h3 + .note { break-after: avoid; }
section.major { break-before: page; }
p { margin: 1.5mm 0; }
.small, figcaption, caption, .note { font-size: 8.5pt; color: #333; }
.note { margin: 1mm 0 2mm; }
figure { margin: 3mm 0; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption, caption { text-align: left; margin: 1mm 0; caption-side: top; font-weight: bold; }
table { border-collapse: collapse; margin: 2mm 0 3mm; break-inside: avoid; width: 100%; }
table.long { break-inside: auto; }
thead { display: table-header-group; }
tr, figure svg, .locator { break-inside: avoid; }
th, td { border-bottom: 0.5pt solid #bbb; padding: 0.6mm 1.5mm; vertical-align: top; text-align: left; }
th { background: #eef1f8; }
td.n, th.n { text-align: right; white-space: nowrap; }
.na { color: #7a2e00; font-style: italic; }
.legend { display: flex; flex-wrap: wrap; gap: 1mm 4mm; font-size: 8.5pt; margin: 1mm 0; }
.legend span { display: inline-flex; align-items: center; gap: 1mm; }
.kind { break-inside: auto; }
.keep { break-inside: avoid; }
.locator { display: flex; align-items: flex-start; gap: 4mm; flex-wrap: wrap; }
.locator svg { max-width: 100%; height: auto; }
svg.defs { position: absolute; width: 0; height: 0; overflow: hidden; }
header .meta { color: #444; font-size: 9pt; }
@media print { body { max-width: none; padding: 0; } a { color: inherit; text-decoration: none; } }
"#;

/// The document being written, with its figure and table counters.
pub(crate) struct Doc {
    pub(crate) out: String,
    figures: usize,
    tables: usize,
}

impl Doc {
    pub(crate) fn new() -> Doc {
        Doc {
            out: String::with_capacity(1 << 20),
            figures: 0,
            tables: 0,
        }
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// A paragraph of escaped text.
    pub(crate) fn p(&mut self, class: &str, text: &str) {
        if class.is_empty() {
            let _ = write!(self.out, "<p>{}</p>", esc(text));
        } else {
            let _ = write!(self.out, "<p class=\"{class}\">{}</p>", esc(text));
        }
    }

    /// A numbered figure around an SVG drawing; the caption is escaped text, the legend
    /// raw HTML.
    pub(crate) fn figure(&mut self, svg: &str, caption: &str, legend: &str) {
        self.figures += 1;
        let _ = write!(
            self.out,
            "<figure id=\"figure-{n}\">{svg}{legend}<figcaption>Figure {n} – {}</figcaption></figure>",
            esc(caption),
            n = self.figures
        );
    }

    /// The number the next figure will have.
    pub(crate) fn next_figure(&self) -> usize {
        self.figures + 1
    }

    /// Opens a numbered table with its caption and header cells (escaped); the caller
    /// writes the rows and calls [`Doc::end_table`].
    pub(crate) fn table(&mut self, caption: &str, head: &[&str], long: bool) {
        self.tables += 1;
        let _ = write!(
            self.out,
            "<table id=\"tableau-{n}\"{}><caption>Tableau {n} – {}</caption><thead><tr>",
            if long { " class=\"long\"" } else { "" },
            esc(caption),
            n = self.tables
        );
        for (k, h) in head.iter().enumerate() {
            if k == 0 {
                let _ = write!(self.out, "<th scope=\"col\">{}</th>", esc(h));
            } else {
                let _ = write!(self.out, "<th scope=\"col\" class=\"n\">{}</th>", esc(h));
            }
        }
        self.out.push_str("</tr></thead><tbody>");
    }

    pub(crate) fn end_table(&mut self) {
        self.out.push_str("</tbody></table>");
    }

    /// A row: a header cell then cells of raw HTML (made by [`cell`] and friends).
    pub(crate) fn row(&mut self, head: &str, cells: &[String]) {
        let _ = write!(self.out, "<tr><th scope=\"row\">{}</th>", esc(head));
        for c in cells {
            self.out.push_str(c);
        }
        self.out.push_str("</tr>");
    }
}

/// A cell of text.
pub(crate) fn text(s: &str) -> String {
    format!("<td>{}</td>", esc(s))
}

/// A whole number, its exact value in `data-value` and `key` in `data-key`.
pub(crate) fn count(key: &str, v: u64) -> String {
    format!(
        "<td class=\"n\" data-key=\"{}\" data-value=\"{v}\">{}</td>",
        esc(key),
        int(v)
    )
}

/// A decimal number (`decimals` shown, the exact value kept), or « non disponible »
/// with its reason.
pub(crate) fn number(
    key: &str,
    v: Option<f64>,
    decimals: usize,
    suffix: &str,
    why: &str,
) -> String {
    match v {
        Some(v) if v.is_finite() => format!(
            "<td class=\"n\" data-key=\"{}\" data-value=\"{v}\">{}{}</td>",
            esc(key),
            dec(v, decimals),
            esc(suffix)
        ),
        _ => missing(key, why),
    }
}

/// A share 0–1 as a percentage (the share itself in `data-value`).
pub(crate) fn share(key: &str, v: Option<f64>, why: &str) -> String {
    match v {
        Some(s) if s.is_finite() => format!(
            "<td class=\"n\" data-key=\"{}\" data-value=\"{s}\">{}</td>",
            esc(key),
            pct(s)
        ),
        _ => missing(key, why),
    }
}

/// « non disponible » and why.
pub(crate) fn missing(key: &str, why: &str) -> String {
    format!(
        "<td class=\"na\" data-key=\"{}\" data-missing=\"{}\">non disponible{}</td>",
        esc(key),
        esc(why),
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(why))
        }
    )
}

/// A territory type in words.
pub(crate) fn type_label(t: crate::model::TerritoryType) -> &'static str {
    use crate::model::TerritoryType as T;
    match t {
        T::Commune => "commune",
        T::Epci => "EPCI",
        T::Departement => "département",
        T::Region => "région",
        T::Cls => "contrat local de santé",
        T::Perimeter => "périmètre",
    }
}
