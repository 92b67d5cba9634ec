// What the service says about its data: kinds of structures (every structure collection
// of /collections names its kind), limits of the API and the kinds each computation
// accepts (from /api, the OpenAPI document), accessibility profiles, commune attributes
// (a light table without geometry, loaded as CSV in pages), and the structure points.

import { api, apiText, qs } from './api.js';
import { kindWords, ALWAYS_NAMED_KINDS, PROFILE_NAMES } from './labels.js';

/** Commune attributes loaded for tables, names and reference points. */
const COMMUNE_FIELDS = [
  'code', 'nom', 'population', 'departement', 'departement_nom', 'region', 'region_nom', 'epci', 'epci_nom', 'cls',
  'ref_lon', 'ref_lat', 'apl_mg', 'zonage_mg',
];
const TEXT_FIELDS = new Set(['code', 'nom', 'departement', 'departement_nom', 'region', 'region_nom', 'epci', 'epci_nom', 'cls', 'zonage_mg', 'ref_point']);
/** Columns saying why a value is missing (`msp_manque`, `acc_ehpad_manque`): text. */
const isText = (name) => TEXT_FIELDS.has(name) || name.endsWith('_manque');

export async function loadMeta() {
  const [collections, communes, dataset, spec, clsCsv] = await Promise.all([
    api('/collections'),
    api('/collections/communes'),
    api('/dataset'),
    api('/api'),
    apiText(`/collections/cls/items${qs({ f: 'csv', limit: 1000 })}`).catch(() => ''),
  ]);
  const [clsHead, ...clsLines] = parseCsv(clsCsv);
  const cls = clsHead
    ? clsLines.map((c) => Object.fromEntries(clsHead.map((k, i) => [k, k === 'population' || k === 'communes' ? Number(c[i]) : c[i]])))
    : [];
  const byId = new Map(collections.collections.map((c) => [c.id, c]));
  const absent = (dataset.sources ?? []).filter((s) => s.status !== 'built');
  const propNames = new Set(communes.properties.map((p) => p.name));

  // Structure collections carry careaccess.kind = {id, label, rank}; the others are
  // communes and territories.
  const allKinds = collections.collections
    .filter((c) => c.careaccess?.kind)
    .sort((a, b) => a.careaccess.kind.rank - b.careaccess.kind.rank)
    .map((c) => {
      const { id } = c.careaccess.kind;
      const title = c.careaccess.kind.label ?? c.title ?? id;
      const count = c.numberOfFeatures ?? 0;
      const available = count > 0;
      let reason = null;
      if (!available) {
        reason = 'aucune structure de ce type dans les données chargées';
        if (absent.length) reason += ` (source non chargée : ${absent.map((s) => s.title).join(' ; ')})`;
      }
      const sources = c.careaccess.sources ?? [];
      // careaccess.scope: the départements where the list speaks (null: everywhere).
      const scope = Array.isArray(c.careaccess.scope) ? new Set(c.careaccess.scope) : null;
      return {
        id,
        title,
        ...kindWords(id, title),
        count,
        available,
        reason,
        partial: Boolean(c.careaccess.partial_list),
        scope,
        sources,
        caveat: sources.map((s) => s.caveat).filter(Boolean).join(' ; ') || null,
        hasIndicator: propNames.has(`${id}_km`),
        /** The column giving why the distance is missing (null when the service has none). */
        missingColumn: propNames.has(`${id}_manque`) ? `${id}_manque` : null,
      };
    });
  // The kinds the page lists: those with structures, and the ones it always names.
  const kinds = allKinds.filter((k) => k.available || ALWAYS_NAMED_KINDS.has(k.id));
  const kindRank = (id) => allKinds.findIndex((k) => k.id === id);

  // Profiles without a kind of structure (doctors) first, then in the order of the kinds.
  const rawProfiles = communes.careaccess?.accessibility_profiles ?? {};
  const profiles = Object.entries(rawProfiles)
    .map(([id, p]) => ({
      id, ...p, name: PROFILE_NAMES[id] ?? p.title ?? id, hasIndicator: propNames.has(`acc_${id}`),
      missingColumn: propNames.has(`acc_${id}_manque`) ? `acc_${id}_manque` : null,
    }))
    .sort((a, b) => (a.supply?.kind ? kindRank(a.supply.kind) : -1) - (b.supply?.kind ? kindRank(b.supply.kind) : -1));

  const declared = readApi(spec);
  return {
    kinds,
    allKinds,
    kind: (id) => allKinds.find((k) => k.id === id),
    /** Kinds with structures that a computation ('scenario' or 'coverage') accepts. */
    kindsFor: (what) => kinds.filter((k) => k.available && (!declared.accepts[what] || declared.accepts[what].has(k.id))),
    profiles,
    profile: (id) => profiles.find((p) => p.id === id),
    profileName: (id) => profiles.find((p) => p.id === id)?.name ?? PROFILE_NAMES[id] ?? id,
    limits: declared.limits,
    properties: new Map(communes.properties.map((p) => [p.name, p])),
    communeCount: communes.numberOfFeatures,
    communeSources: communes.careaccess?.sources ?? [],
    distanceModel: communes.careaccess?.distance_model,
    cls,
    clsName: (id) => cls.find((c) => c.code === id)?.nom ?? id,
    dataset,
    collections: byId,
  };
}

/**
 * What the OpenAPI document declares. limits: most changes in a scenario, most structures
 * per kind for /nearest, most sites for /siting (Infinity when not declared: the service
 * then says in words what it refuses). accepts: the kinds a scenario and a territory's
 * coverage take (a Set, or null when any kind goes).
 */
function readApi(spec) {
  const param = (path, name) => spec.paths?.[path]?.get?.parameters?.find((p) => p.name === name)?.schema;
  const kinds = (schema) => (Array.isArray(schema?.enum) ? new Set(schema.enum) : null);
  const scenario = spec.components?.schemas?.Scenario?.properties;
  return {
    limits: {
      scenarioChanges: scenario?.changes?.maxItems ?? Infinity,
      nearestK: param('/nearest', 'k')?.maximum ?? Infinity,
      sitingK: param('/siting', 'k')?.maximum ?? Infinity,
    },
    accepts: {
      scenario: kinds(scenario?.kind),
      coverage: kinds(param('/territories/{type}/{code}/coverage', 'kind')),
    },
  };
}

/** The columns the first view needs besides its indicator's (legend counts, names of départements). */
export const FIRST_FIELDS = ['code', 'population', 'departement', 'departement_nom'];

/**
 * All communes' attributes without geometry, loaded by columns as they are needed (CSV
 * pages of 10 000 rows with `code` and the columns asked): the first view takes the
 * population and its indicator (a few hundred kB), the rest (names, positions, the other
 * indicators: about 2 MB compressed nationally) comes later. `rows` are in the
 * collection's order, so a row's `rank` (1-based) is the id of its commune in the vector
 * tiles; `byCode` finds a row by INSEE code. `ensure(columns)` resolves once every one
 * of them is loaded (each column is asked once; a failed load is asked again next time).
 */
export function communeTable(meta) {
  const fields = COMMUNE_FIELDS.filter((f) => meta.properties.has(f));
  for (const name of meta.properties.keys()) {
    if (/^(acc_|apl_(inf|mk|sf|cd)$|[a-z_]+_km$|[a-z_]+_min$|[a-z_]+_manque$)/.test(name) && !fields.includes(name)) fields.push(name);
  }
  const rows = [];
  const byCode = new Map();
  const asked = new Map(); // column → promise of its load
  const loaded = new Set();
  const page = 10000;
  const pages = Math.max(1, Math.ceil((meta.communeCount ?? 0) / page));

  async function load(columns) {
    const props = ['code', ...columns.filter((c) => c !== 'code')];
    const texts = await Promise.all(Array.from({ length: pages }, (_, i) =>
      apiText(`/collections/communes/items${qs({ f: 'csv', limit: page, offset: i * page, properties: props.join(',') })}`)));
    let i = 0;
    for (const text of texts) {
      const [head, ...lines] = parseCsv(text);
      if (!head) continue;
      for (const cells of lines) {
        if (cells.length < head.length) continue;
        let r = rows[i];
        if (!r) {
          r = { rank: i + 1 };
          rows[i] = r;
        }
        head.forEach((k, j) => {
          const v = cells[j];
          r[k] = v === '' ? null : isText(k) ? v : Number(v);
        });
        byCode.set(r.code, r);
        i++;
      }
    }
    for (const c of props) loaded.add(c);
  }

  const table = {
    rows,
    byCode,
    fields,
    /** True when a column is loaded. */
    has: (column) => loaded.has(column),
    ensure(columns) {
      const missing = [...new Set(columns)].filter((c) => fields.includes(c) && !asked.has(c));
      if (missing.length) {
        const p = load(missing);
        for (const c of missing) asked.set(c, p);
        p.catch(() => { for (const c of missing) asked.delete(c); });
      }
      return Promise.all(columns.map((c) => asked.get(c))).then(() => table);
    },
  };
  return table;
}

/** RFC 4180 CSV (comma separator, double-quote quoting). */
export function parseCsv(text) {
  const out = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); cell = '';
      if (row.length > 1 || row[0] !== '') out.push(row);
      row = [];
    } else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); out.push(row); }
  return out;
}

const facilityCache = new Map();

/** Every structure of a kind as a GeoJSON FeatureCollection (paged by 10 000). */
export function loadFacilities(kind) {
  if (!facilityCache.has(kind)) {
    facilityCache.set(kind, (async () => {
      const features = [];
      let offset = 0;
      for (;;) {
        const fc = await api(`/collections/${kind}/items${qs({ limit: 10000, offset })}`);
        features.push(...fc.features);
        offset += fc.features.length;
        if (!fc.features.length || offset >= (fc.numberMatched ?? 0)) break;
      }
      return { type: 'FeatureCollection', features };
    })().catch((e) => { facilityCache.delete(kind); throw e; }));
  }
  return facilityCache.get(kind);
}

/** A structure (feature) by id among the kinds already loaded, or null. */
export async function findFacility(id, kinds) {
  for (const k of kinds) {
    const fc = await loadFacilities(k).catch(() => null);
    const f = fc?.features.find((x) => x.properties.id === id);
    if (f) return f;
  }
  return null;
}

/** What follows « Position » for a structure's `position` (« arrondie… », « placée au chef-lieu… »), or null when exact. */
export function positionNote(position) {
  switch (position) {
    case 'address':
    case 'adresse':
      return null;
    case 'rounded':
      return 'arrondie (à environ 1 km près)';
    case 'commune_chef_lieu':
      return 'placée au chef-lieu de sa commune (adresse exacte inconnue)';
    case null:
    case undefined:
    case '':
      return null;
    default:
      return `« ${position} »`;
  }
}
