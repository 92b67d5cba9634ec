//! data.gouv.fr dataset API: a source declared by its dataset and the title of its
//! resource (`[source.data_gouv]`) is resolved at fetch time to the file's current URL.
//! The FINESS extract is re-published under a new resource id at every extraction; its
//! dataset and title stay.
//!
//! `GET https://www.data.gouv.fr/api/1/datasets/<slug>/` answers JSON with
//! `resources[]`, each with `title`, `url`, `format`, `last_modified` and `checksum`.

use serde::Deserialize;

use super::ImportError;
use super::remote::{self, HttpOptions};
use super::sources::DataGouv;

/// The resource a source resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub title: String,
    pub url: String,
    /// As the API gives it (ISO 8601): the version of the file.
    pub last_modified: Option<String>,
}

#[derive(Deserialize)]
struct Dataset {
    #[serde(default)]
    resources: Vec<ApiResource>,
}

#[derive(Deserialize)]
struct ApiResource {
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    last_modified: Option<String>,
}

/// Largest dataset answer read (the FINESS dataset's is a few tens of kB).
const MAX_JSON: u64 = 16 * 1024 * 1024;

/// Asks the dataset API for the current resource of `d`.
pub fn resolve(
    agent: &ureq::Agent,
    http: &HttpOptions,
    source_id: &str,
    d: &DataGouv,
) -> Result<Resource, ImportError> {
    let api = d.api_url();
    let failed = |message: String| ImportError::Download {
        url: api.clone(),
        message: format!("source {source_id}: dataset API: {message}"),
    };
    let mut attempt = 1;
    let body = loop {
        let result = agent.get(&http.effective_url(&api)).call();
        let (error, transient) = match result {
            Ok(mut r) if r.status().is_success() => {
                let mut text = String::new();
                match std::io::Read::read_to_string(
                    &mut std::io::Read::take(r.body_mut().as_reader(), MAX_JSON),
                    &mut text,
                ) {
                    Ok(_) => break text,
                    Err(e) => (format!("reading the answer: {e}"), true),
                }
            }
            Ok(r) => (
                format!("HTTP status {}", r.status()),
                remote::transient_status(r.status().as_u16()),
            ),
            Err(e) => (e.to_string(), remote::transient(&e)),
        };
        if !transient || attempt >= http.attempts {
            return Err(failed(error));
        }
        attempt += 1;
        std::thread::sleep(http.backoff_before(attempt));
    };
    pick(&body, &d.resource).map_err(failed)
}

/// The resource of a dataset answer whose title (or file name) matches `pattern`; the
/// latest modified when several do.
pub fn pick(json: &str, pattern: &str) -> Result<Resource, String> {
    let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
    let dataset: Dataset = serde_json::from_str(json).map_err(|e| {
        let start: String = json.chars().take(80).collect();
        format!("the answer is not a dataset ({e}; it starts with {start:?})")
    })?;
    let file_name = |url: &str| url.rsplit('/').next().unwrap_or("").to_owned();
    let best = dataset
        .resources
        .iter()
        .filter(|r| !r.url.is_empty() && (re.is_match(&r.title) || re.is_match(&file_name(&r.url))))
        .max_by(|a, b| a.last_modified.cmp(&b.last_modified));
    match best {
        Some(r) => Ok(Resource {
            title: r.title.clone(),
            url: r.url.clone(),
            last_modified: r.last_modified.clone(),
        }),
        None => {
            let titles: Vec<&str> = dataset.resources.iter().map(|r| r.title.as_str()).collect();
            Err(format!(
                "no resource matches {pattern:?} (resources: {})",
                if titles.is_empty() {
                    "none".to_owned()
                } else {
                    titles.join(" | ")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_matching_resource_wins() {
        let json = r#"{"resources":[
            {"title":"Extraction Finess sans géolocalisation","url":"https://x/etalab-cs1100502-stock-20260101-0400.csv","last_modified":"2026-01-02T00:00:00"},
            {"title":"Extraction Finess géolocalisée","url":"https://x/etalab-cs1100507-stock-20251201-0400.csv","last_modified":"2025-12-02T00:00:00"},
            {"title":"etalab-cs1100507-stock-20260101-0400.csv","url":"https://x/etalab-cs1100507-stock-20260101-0400.csv","last_modified":"2026-01-02T00:00:00"}
        ]}"#;
        let r = pick(json, "(?i)g[ée]olocalis|cs1100507").expect("pick");
        assert_eq!(r.url, "https://x/etalab-cs1100507-stock-20260101-0400.csv");
        assert_eq!(r.last_modified.as_deref(), Some("2026-01-02T00:00:00"));
        let e = pick(json, "Finess\\+").expect_err("none");
        assert!(
            e.contains("no resource matches") && e.contains("sans géolocalisation"),
            "{e}"
        );
        let e = pick("<!DOCTYPE html>", "x").expect_err("html");
        assert!(e.contains("not a dataset") && e.contains("DOCTYPE"), "{e}");
    }
}
