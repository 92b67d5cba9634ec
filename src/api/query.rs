//! The analysis endpoints' parameters: for each endpoint, the list of its query
//! parameters ([`Param`]: name, meaning, JSON Schema) — which both checks a request's
//! parameter names and documents the endpoint in `/api` — and the parsing of the query
//! string into the validated request of [`crate::analysis::request`].

use serde::Deserialize;
use serde_json::{Value, json};

use crate::analysis::DistanceModel;
use crate::analysis::change::{Change, MAX_CHANGES};
use crate::analysis::listed::FacilityChoice;
use crate::analysis::request::{
    self, AccessRequest, CoverageRequest, DEFAULT_NEAREST_K, DEFAULT_SITING_K, MAX_NEAREST_K,
    MAX_SITING_K, MAX_THRESHOLD, NearestRequest, ProfileChoice, ScenarioRequest, SitingRequest,
};
use crate::analysis::territory::{self, TerritoryError};
use crate::model::{Kind, Territory, TerritoryType};

use super::error::{ApiError, ApiResult};
use super::params::{self, Param, QueryPairs, Served, bad};
use super::state::AppState;

fn kinds_schema(served: &Served) -> Value {
    json!({ "type": "string", "enum": served.kinds })
}

fn profiles_schema(served: &Served) -> Value {
    json!({ "type": "string", "enum": served.profiles })
}

const MODEL: Param = Param {
    name: "model",
    description: "Distance model: straight (geodesic), road_estimate (road km and car minutes estimated from it; the default) or matrix (the data set's travel-time table)",
    required: false,
    schema: |_| json!({ "type": "string", "enum": ["straight", "road_estimate", "matrix"], "default": "road_estimate" }),
};
const WITHIN_KM: Param = Param {
    name: "within_km",
    description: "Threshold in straight km (default 10 km); not with within_min",
    required: false,
    schema: |_| json!({ "type": "number", "minimum": 0, "maximum": MAX_THRESHOLD }),
};
const WITHIN_MIN: Param = Param {
    name: "within_min",
    description: "Threshold in estimated car minutes; not with within_km",
    required: false,
    schema: |_| json!({ "type": "number", "minimum": 0, "maximum": MAX_THRESHOLD }),
};
const KIND: Param = Param {
    name: "kind",
    description: "Kind of structure",
    required: true,
    schema: kinds_schema,
};

/// `facilities` of nearest and coverage: which structures (a planner's list: `api::layers`).
pub const FACILITIES: Param = Param {
    name: "facilities",
    description: "Structures used: official (the data build; the default), list (a planner's list alone: `list` required) or both (the nearer of the two)",
    required: false,
    schema: |_| json!({ "type": "string", "enum": ["official", "list", "both"], "default": "official" }),
};
/// `list`: the planner's list they use.
pub const LIST: Param = Param {
    name: "list",
    description: "Id of a planner's list (GET /layers), with facilities=list or both; a private list needs its author's token",
    required: false,
    schema: |_| json!({ "type": "string" }),
};

/// Parameters of the territory summary.
pub const SUMMARY_PARAMS: &[Param] = &[FACILITIES, LIST];

/// The distance model of a query, if given.
fn model(q: &QueryPairs) -> ApiResult<Option<DistanceModel>> {
    q.parsed("model", params::model)
}

/// `within_km` / `within_min` as numbers (their range is the request's rule).
fn within(q: &QueryPairs) -> ApiResult<(Option<f64>, Option<f64>)> {
    Ok((
        q.parsed("within_km", params::number)?,
        q.parsed("within_min", params::number)?,
    ))
}

fn required<'a>(q: &'a QueryPairs, name: &str, example: &str) -> ApiResult<&'a str> {
    q.get(name)?
        .ok_or_else(|| bad(name, format!("is required (e.g. {example})")))
}

/// `GET /nearest`.
pub struct NearestQuery;

impl NearestQuery {
    pub const PARAMS: &[Param] = &[
        Param {
            name: "lon",
            description: "Longitude (WGS84), with lat",
            required: false,
            schema: |_| json!({ "type": "number", "minimum": -180, "maximum": 180 }),
        },
        Param {
            name: "lat",
            description: "Latitude (WGS84), with lon",
            required: false,
            schema: |_| json!({ "type": "number", "minimum": -90, "maximum": 90 }),
        },
        Param {
            name: "commune",
            description: "INSEE code of the commune to start from (instead of lon/lat)",
            required: false,
            schema: |_| json!({ "type": "string" }),
        },
        Param {
            description: "Kind of structure; every kind when absent",
            required: false,
            ..KIND
        },
        Param {
            name: "k",
            description: "How many structures per kind",
            required: false,
            schema: |_| json!({ "type": "integer", "minimum": 1, "maximum": MAX_NEAREST_K, "default": DEFAULT_NEAREST_K }),
        },
        MODEL,
        FACILITIES,
        LIST,
    ];

    pub fn parse(q: &QueryPairs, st: &AppState) -> ApiResult<NearestRequest> {
        q.only(Self::PARAMS)?;
        Ok(NearestRequest::new(
            &st.engine,
            (
                q.parsed("lon", params::number)?,
                q.parsed("lat", params::number)?,
            ),
            q.get("commune")?,
            q.get("kind")?,
            q.parsed("k", params::integer)?,
            model(q)?,
        )?)
    }
}

/// `GET /territories/{type}/{code}/coverage`.
pub struct CoverageQuery;

impl CoverageQuery {
    pub const PARAMS: &[Param] = &[KIND, MODEL, WITHIN_KM, WITHIN_MIN, FACILITIES, LIST];

    pub fn parse(
        q: &QueryPairs,
        st: &AppState,
        territory: Territory,
    ) -> ApiResult<CoverageRequest> {
        q.only(Self::PARAMS)?;
        let kind = required(q, "kind", "kind=msp")?;
        Ok(CoverageRequest::new(
            &st.engine,
            territory,
            kind,
            model(q)?,
            within(q)?,
        )?)
    }
}

/// `GET /siting`.
pub struct SitingQuery;

impl SitingQuery {
    pub const PARAMS: &[Param] = &[
        Param {
            name: "territory",
            description: "cls:<id>, epci:<siren>, dep:<code>, reg:<code>, communes:<code>,<code>…, perimeter:<id> (a saved perimeter)",
            required: true,
            schema: |_| json!({ "type": "string" }),
        },
        KIND,
        Param {
            name: "k",
            description: "Sites to pick",
            required: false,
            schema: |_| json!({ "type": "integer", "minimum": 1, "maximum": MAX_SITING_K, "default": DEFAULT_SITING_K }),
        },
        MODEL,
        WITHIN_KM,
        WITHIN_MIN,
        FACILITIES,
        LIST,
    ];

    /// `perimeter` is the saved perimeter `territory` names, if it names one (read from
    /// the store beforehand: `api::perimeter::perimeter`); `listed` as for
    /// [`ScenarioBody::request`].
    pub fn parse(
        q: &QueryPairs,
        st: &AppState,
        perimeter: Option<&Territory>,
        listed: Option<Kind>,
    ) -> ApiResult<SitingRequest> {
        q.only(Self::PARAMS)?;
        let spec = required(q, "territory", "cls:thouarsais, epci:247900798, dep:79")?;
        let territory = resolve_territory(st, spec, perimeter).map_err(|e| bad("territory", e))?;
        let written = required(q, "kind", "kind=msp")?;
        let kind = match listed {
            Some(kind) => kind,
            None => request::kind(&st.engine, "kind", written)?,
        };
        Ok(SitingRequest::new(
            territory,
            kind,
            q.parsed("k", params::integer)?,
            within(q)?,
            model(q)?,
        )?)
    }
}

/// `GET /communes/{code}/explain`.
pub struct ExplainQuery;

impl ExplainQuery {
    pub const PARAMS: &[Param] = &[
        Param {
            name: "profile",
            description: "Accessibility profile (default mg)",
            required: false,
            schema: profiles_schema,
        },
        Param {
            name: "kind",
            description: "Deprecated name of `profile`",
            required: false,
            schema: profiles_schema,
        },
        FACILITIES,
        LIST,
    ];

    /// The request, and the name of the parameter that named the profile.
    pub fn parse(q: &QueryPairs) -> ApiResult<(&'static str, AccessRequest)> {
        q.only(Self::PARAMS)?;
        let (name, profile) = match (q.get("profile")?, q.get("kind")?) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request("give `profile` or `kind`, not both"));
            }
            (Some(p), None) => ("profile", p),
            (None, Some(p)) => ("kind", p),
            (None, None) => ("profile", "mg"),
        };
        Ok((
            name,
            AccessRequest {
                profile: profile.to_owned(),
                supply: None,
                demand: None,
                model: None,
            },
        ))
    }
}

/// `GET /search`.
pub struct SearchQuery {
    pub text: String,
    pub types: Vec<TerritoryType>,
    pub limit: usize,
}

/// Longest name searched.
pub const MAX_SEARCH_CHARS: usize = 100;
/// Most results of a search.
pub const MAX_SEARCH_RESULTS: usize = 100;

impl SearchQuery {
    pub const PARAMS: &[Param] = &[
        Param {
            name: "q",
            description: "Name or code",
            required: true,
            schema: |_| json!({ "type": "string", "maxLength": MAX_SEARCH_CHARS }),
        },
        Param {
            name: "type",
            description: "Comma-separated types: commune, epci, departement, region, cls",
            required: false,
            schema: |_| json!({ "type": "array", "items": { "type": "string" } }),
        },
        Param {
            name: "limit",
            description: "At most this many results",
            required: false,
            schema: |_| json!({ "type": "integer", "minimum": 1, "maximum": MAX_SEARCH_RESULTS, "default": 10 }),
        },
    ];

    pub fn parse(q: &QueryPairs) -> ApiResult<SearchQuery> {
        q.only(Self::PARAMS)?;
        let text = q.get("q")?.ok_or_else(|| bad("q", "is required"))?;
        if text.chars().count() > MAX_SEARCH_CHARS {
            return Err(bad(
                "q",
                format!("is longer than {MAX_SEARCH_CHARS} characters"),
            ));
        }
        let types = match q.get("type")? {
            None | Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|t| t.trim().parse().map_err(|e| bad("type", e)))
                .collect::<ApiResult<_>>()?,
        };
        let limit = q
            .parsed("limit", |_, v| {
                params::count("limit", v, 1, MAX_SEARCH_RESULTS)
            })?
            .unwrap_or(10);
        Ok(SearchQuery {
            text: text.to_owned(),
            types,
            limit,
        })
    }
}

/// Body of `POST /scenarios`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioBody {
    pub kind: String,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub within_km: Option<f64>,
    #[serde(default)]
    pub within_min: Option<f64>,
    #[serde(default)]
    pub model: Option<String>,
    /// Accessibility profile of the deltas (`none`: no accessibility deltas); by default
    /// the profile named after the kind, when its supply is that kind.
    #[serde(default)]
    pub profile: Option<String>,
    /// The territory the user looks at (`cls:thouarsais`, `dep:79`…): the headline
    /// (`inside`) is the change inside it.
    #[serde(default)]
    pub territory: Option<String>,
    /// The structures the scenario starts from: the build's (default), a planner's
    /// list (`list`) or both.
    #[serde(default)]
    pub facilities: Option<FacilityChoice>,
    /// The list's id, with `facilities` `list` or `both`.
    #[serde(default)]
    pub list: Option<String>,
}

/// Largest accepted scenario body.
pub const MAX_SCENARIO_BYTES: usize = 64 * 1024;

impl ScenarioBody {
    /// Parses a scenario body, naming what is wrong (line and column for JSON errors).
    pub fn parse(body: &[u8]) -> ApiResult<ScenarioBody> {
        use axum::http::StatusCode;
        if body.len() > MAX_SCENARIO_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "scenario body of {} bytes exceeds {MAX_SCENARIO_BYTES}",
                    body.len()
                ),
            ));
        }
        let r: ScenarioBody = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("scenario body: {e}")))?;
        if r.changes.is_empty() {
            return Err(ApiError::bad_request(
                "scenario body: `changes` is empty (add, remove or resize at least one structure)",
            ));
        }
        if r.changes.len() > MAX_CHANGES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "scenario body: {} changes, at most {MAX_CHANGES}",
                    r.changes.len()
                ),
            ));
        }
        Ok(r)
    }

    /// The validated request; `perimeter` as for [`SitingQuery::parse`]; `listed`: the
    /// kind `kind` names when the planner's list the scenario uses holds it (the build
    /// may lack it).
    pub fn request(
        self,
        st: &AppState,
        perimeter: Option<&Territory>,
        listed: Option<Kind>,
    ) -> ApiResult<ScenarioRequest> {
        let kind = match listed {
            Some(kind) => kind,
            None => request::kind(&st.engine, "kind", &self.kind)?,
        };
        let model = self
            .model
            .as_deref()
            .map(|m| params::model("model", m))
            .transpose()?;
        let territory = self
            .territory
            .as_deref()
            .map(|t| resolve_territory(st, t, perimeter).map_err(|e| bad("territory", e)))
            .transpose()?;
        Ok(ScenarioRequest::new(
            kind,
            self.changes,
            (self.within_km, self.within_min),
            model,
            ProfileChoice::from_param(self.profile.as_deref()),
            None,
            None,
        )?
        .inside(territory))
    }

    /// JSON Schema of the body (`/api`).
    pub fn schema(st: &Served) -> Value {
        json!({
            "type": "object",
            "required": ["kind", "changes"],
            "description": format!("At most {MAX_SCENARIO_BYTES} bytes and {MAX_CHANGES} changes"),
            "properties": {
                "kind": kinds_schema(st),
                "within_km": (WITHIN_KM.schema)(st),
                "within_min": (WITHIN_MIN.schema)(st),
                "model": (MODEL.schema)(st),
                "profile": {"type": "string", "description": "Accessibility profile of the deltas (none: skip); default: the profile named after the kind"},
                "territory": {"type": "string", "description": "The territory looked at (cls:<id>, epci:<siren>, dep:<code>…): `inside` gives the change inside it"},
                "facilities": {"type": "string", "enum": ["official", "list", "both"], "default": "official", "description": "The structures the scenario starts from: the build's, a planner's list (`list`), or both"},
                "list": {"type": "string", "description": "Id of the planner's list (GET /layers), with facilities list or both; a private list needs its author's token. Its structures can be closed or resized by their ids (liste:<list>:<line>)"},
                "changes": { "type": "array", "minItems": 1, "maxItems": MAX_CHANGES, "items": { "oneOf": [
                    { "type": "object", "required": ["op", "lon", "lat"], "properties": {
                        "op": {"type": "string", "enum": ["add"]}, "lon": {"type": "number"}, "lat": {"type": "number"},
                        "name": {"type": "string"}, "capacity": {"type": "number"} } },
                    { "type": "object", "required": ["op", "id"], "properties": {
                        "op": {"type": "string", "enum": ["remove"]}, "id": {"type": "string"} } },
                    { "type": "object", "required": ["op", "id", "capacity"], "properties": {
                        "op": {"type": "string", "enum": ["resize"]}, "id": {"type": "string"}, "capacity": {"type": "number"} } }
                ] } }
            }
        })
    }
}

/// A territory spec (`dep:79`, `perimeter:<id>`…); `perimeter` is the saved perimeter it
/// names, if it names one, read from the store beforehand (`api::perimeter::perimeter`).
pub fn resolve_territory(
    st: &AppState,
    spec: &str,
    perimeter: Option<&Territory>,
) -> Result<Territory, TerritoryError> {
    match perimeter {
        Some(t) if spec.strip_prefix("perimeter:") == Some(t.code.as_str()) => Ok(t.clone()),
        _ => territory::resolve(&st.engine.data, spec),
    }
}

/// A territory named in a path (`/territories/{type}/{code}`): unknown is a 404.
pub fn territory_in_path(
    st: &AppState,
    kind: &str,
    code: &str,
    perimeter: Option<&Territory>,
) -> ApiResult<Territory> {
    let kind: TerritoryType = kind
        .parse()
        .map_err(|e| ApiError::not_found(format!("{e}")))?;
    resolve_territory(st, &format!("{}:{code}", kind.prefix()), perimeter)
        .map_err(|e| ApiError::not_found(e.to_string()))
}

/// `GET /territories/{type}/{code}/zonage`: which APL values face the official zonage.
pub struct ZonageQuery;

impl ZonageQuery {
    pub const PARAMS: &[Param] = &[Param {
        name: "values",
        description: "drees: the DREES APL 2021 of GPs aged 65 or less (default); ours: the 2SFCA of the mg profile",
        required: false,
        schema: |_| json!({ "type": "string", "enum": ["drees", "ours"], "default": "drees" }),
    }];

    /// True for our 2SFCA, false for the DREES APL.
    pub fn ours(q: &QueryPairs) -> ApiResult<bool> {
        q.only(Self::PARAMS)?;
        match q.get("values")?.unwrap_or("drees") {
            "drees" => Ok(false),
            "ours" => Ok(true),
            other => Err(bad(
                "values",
                format!("must be drees or ours, not {other:?}"),
            )),
        }
    }
}
