//! What each publisher has now, for `careaccess data sources --remote`: the version of
//! the file a source would be fetched from (the data.gouv.fr dataset API's
//! `last_modified`, else the `ETag` or `Last-Modified` of a HEAD request), compared
//! with the version recorded when it was fetched.

use super::fetch::{FetchedFile, Origin};
use super::remote::{self, HttpOptions};
use super::{ImportError, SourceSpec, datagouv};

/// One source, as its publisher has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The URL of the file today (a `data_gouv` source resolves to a new one per release).
    pub url: String,
    /// Its version, when the publisher says one.
    pub version: Option<String>,
    /// Whether it differs from the fetched file: `None` when it cannot be told.
    pub newer: Option<bool>,
}

/// Asks the publisher of `spec` (nothing for a mirror-only source).
pub fn check(
    agent: &ureq::Agent,
    http: &HttpOptions,
    spec: &SourceSpec,
    fetched: Option<&FetchedFile>,
) -> Result<Option<Published>, ImportError> {
    let (url, version) = match (&spec.url, &spec.data_gouv) {
        (Some(url), _) => {
            let version = remote::head_version(agent, &http.effective_url(url));
            (url.clone(), version)
        }
        (None, Some(d)) => {
            let r = datagouv::resolve(agent, http, &spec.id, d)?;
            (r.url, r.last_modified)
        }
        (None, None) => return Ok(None),
    };
    let newer = match fetched {
        // A pinned registry package never changes under its URL.
        _ if spec.sha256.is_some() => Some(false),
        Some(f)
            if matches!(f.origin, Origin::Url | Origin::Cache) && f.from.starts_with("http") =>
        {
            if f.from != url {
                Some(true)
            } else {
                match (&f.version, &version) {
                    (Some(a), Some(b)) => Some(a != b),
                    _ => None,
                }
            }
        }
        // A mirror copy: the publisher's file is another one.
        Some(_) => None,
        None => Some(true),
    };
    Ok(Some(Published {
        url,
        version,
        newer,
    }))
}
