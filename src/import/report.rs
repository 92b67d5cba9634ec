//! The build report: for every source, rows read, kept and skipped (by reason, with
//! line numbers), so that nothing is dropped silently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ImportError, SourceSpec};

/// At most this many skipped rows are listed one by one per source; counts stay exact.
pub const MAX_LISTED_SKIPS: usize = 2_000;

/// How many line numbers a note lists before eliding the rest.
const MAX_LISTED_LINES: usize = 50;

/// A row that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRow {
    /// 1-based line (or feature number for GeoJSON) in the source file.
    pub line: u64,
    /// Stable reason key (`bad_coordinates`, `missing_geolocation`…).
    pub reason: String,
    /// What exactly was wrong, for a human.
    pub detail: String,
}

/// What one source contributed to the build.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    pub id: String,
    pub title: String,
    pub vintage: String,
    pub licence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
    /// `built`, or `absent` for an optional source that was not fetched.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Point sources: the CRS their positions were read in (`EPSG:2154 RGF93 v1 /
    /// Lambert-93 (x/y in metres)`), converted to WGS84.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    /// Data rows read (header lines excluded).
    pub rows_read: u64,
    /// Rows that made it into the build.
    pub kept: u64,
    /// Skipped rows by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Rows dropped because a preferred source covers the same kind and département.
    pub superseded: u64,
    /// Rows added up into another row (arrondissements municipaux into their commune):
    /// rows read = kept + skipped + superseded + aggregated.
    #[serde(default)]
    pub aggregated: u64,
    /// Sites moved to another kind by category or name, by `from→to: reason`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reclassified: BTreeMap<String, u64>,
    /// Facilities kept, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_by_kind: BTreeMap<String, u64>,
    /// Skipped rows one by one (the first [`MAX_LISTED_SKIPS`]).
    pub skipped_rows: Vec<SkippedRow>,
    /// Anything else worth knowing (fallbacks used, values corrected).
    pub notes: Vec<String>,
}

impl SourceReport {
    pub fn skip(&mut self, line: u64, reason: &str, detail: impl Into<String>) {
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
        if self.skipped_rows.len() < MAX_LISTED_SKIPS {
            self.skipped_rows.push(SkippedRow {
                line,
                reason: reason.to_owned(),
                detail: detail.into(),
            });
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Notes the rows whose X and Y were swapped and corrected (`counted_as`: what the
    /// numbers are, `lines`, `features`…).
    pub(crate) fn note_swapped(&mut self, lines: &[u64], counted_as: &str) {
        let (rows, verb) = match lines.len() {
            0 => return,
            1 => ("row", "was"),
            _ => ("rows", "were"),
        };
        self.note(format!(
            "{} {rows} had X and Y swapped and {verb} corrected ({counted_as} {})",
            lines.len(),
            list_lines(lines)
        ));
    }
}

/// `2, 16, 40` or `2, 16, … (+120 more)`.
fn list_lines(lines: &[u64]) -> String {
    let shown: Vec<String> = lines
        .iter()
        .take(MAX_LISTED_LINES)
        .map(u64::to_string)
        .collect();
    let mut text = shown.join(", ");
    if lines.len() > MAX_LISTED_LINES {
        text.push_str(&format!(", … (+{} more)", lines.len() - MAX_LISTED_LINES));
    }
    text
}

/// The whole `build-report.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// careaccess version that built the data.
    pub builder: String,
    /// Build id (UTC timestamp), also the folder name under `geodata/builds/`.
    pub build_id: String,
    pub sources: Vec<SourceReport>,
    /// Features written per output file.
    pub outputs: BTreeMap<String, u64>,
}

impl SourceReport {
    /// The report of `spec` before anything is read.
    pub(crate) fn for_source(spec: &SourceSpec) -> SourceReport {
        SourceReport {
            id: spec.id.clone(),
            title: spec.title.clone(),
            vintage: spec.vintage.clone(),
            licence: spec.licence.clone(),
            caveat: spec.caveat.clone(),
            status: "built".into(),
            ..SourceReport::default()
        }
    }

    /// An optional source whose file cannot be read is left out, its counts cleared and
    /// the reason noted; a required one (or a manifest error) stops the build.
    pub(crate) fn left_out(
        &mut self,
        spec: &SourceSpec,
        e: ImportError,
    ) -> Result<(), ImportError> {
        if !spec.is_optional() || matches!(e, ImportError::Manifest(_)) {
            return Err(e);
        }
        tracing::warn!(source = %spec.id, "left out: {e}");
        *self = SourceReport {
            status: "unreadable".into(),
            file: self.file.take(),
            sha256: self.sha256.take(),
            ..SourceReport::for_source(spec)
        };
        self.note(format!(
            "optional source left out: its file cannot be read: {e}"
        ));
        Ok(())
    }
}
