// What the service says about its data: kinds of structures (and which have none),
// accessibility profiles, commune attributes (a light table without geometry, loaded
// as CSV in pages), and the structure points.

import { api, apiText, qs } from './api.js';

/** The kinds of structure the issue names, in display order. */
export const KIND_IDS = ['msp', 'ehpad', 'clic', 'centre_sante', 'hospital'];

/** French grammar the sentences need, per kind (the collection title is used when unknown). */
const KIND_WORDS = {
  msp: { short: 'MSP', nearest: 'la MSP la plus proche', a: 'une MSP', plural: 'MSP' },
  ehpad: { short: 'EHPAD', nearest: "l'EHPAD le plus proche", a: 'un EHPAD', plural: 'EHPAD' },
  clic: { short: 'CLIC', nearest: 'le CLIC le plus proche', a: 'un CLIC', plural: 'CLIC' },
  centre_sante: { short: 'Centre de santé', nearest: 'le centre de santé le plus proche', a: 'un centre de santé', plural: 'centres de santé' },
  hospital: { short: 'Hôpital', nearest: "l'établissement hospitalier le plus proche", a: 'un établissement hospitalier', plural: 'établissements hospitaliers' },
};

/** Profiles of 2SFCA accessibility in display order (others follow). */
const PROFILE_ORDER = ['mg', 'msp', 'ehpad', 'hospital', 'clic'];

/** Commune attributes loaded for tables, names and reference points. */
const COMMUNE_FIELDS = [
  'code', 'nom', 'population', 'departement', 'departement_nom', 'region', 'region_nom', 'epci', 'epci_nom', 'cls',
  'ref_lon', 'ref_lat', 'apl_mg', 'zonage_mg',
];
const TEXT_FIELDS = new Set(['code', 'nom', 'departement', 'departement_nom', 'region', 'region_nom', 'epci', 'epci_nom', 'cls', 'zonage_mg', 'ref_point']);

export async function loadMeta() {
  const [collections, communes, dataset, clsCsv] = await Promise.all([
    api('/collections'),
    api('/collections/communes'),
    api('/dataset'),
    apiText(`/collections/cls/items${qs({ f: 'csv', limit: 1000 })}`).catch(() => ''),
  ]);
  const [clsHead, ...clsLines] = parseCsv(clsCsv);
  const cls = clsHead
    ? clsLines.map((c) => Object.fromEntries(clsHead.map((k, i) => [k, k === 'population' || k === 'communes' ? Number(c[i]) : c[i]])))
    : [];
  const byId = new Map(collections.collections.map((c) => [c.id, c]));
  const absent = (dataset.sources ?? []).filter((s) => s.status !== 'built');
  const propNames = new Set(communes.properties.map((p) => p.name));

  const kinds = KIND_IDS.map((id) => {
    const c = byId.get(id);
    const words = KIND_WORDS[id] ?? { short: id, nearest: `${id} le plus proche`, a: id, plural: id };
    const count = c?.numberOfFeatures ?? 0;
    const available = count > 0;
    let reason = null;
    if (!c) reason = "ce type de structure n'est pas servi par le service";
    else if (!available) {
      reason = 'aucune structure de ce type dans les données chargées';
      if (absent.length) reason += ` (source non chargée : ${absent.map((s) => s.title).join(' ; ')})`;
    }
    const sources = c?.careaccess?.sources ?? [];
    return {
      id,
      title: c?.title ?? words.short,
      ...words,
      count,
      available,
      reason,
      partial: Boolean(c?.careaccess?.partial_list),
      sources,
      caveat: sources.map((s) => s.caveat).filter(Boolean).join(' ; ') || null,
      hasIndicator: propNames.has(`${id}_km`),
    };
  });

  const rawProfiles = communes.careaccess?.accessibility_profiles ?? {};
  const profiles = Object.entries(rawProfiles)
    .map(([id, p]) => ({ id, ...p, hasIndicator: propNames.has(`acc_${id}`) }))
    .sort((a, b) => rank(a.id) - rank(b.id));

  return {
    kinds,
    kind: (id) => kinds.find((k) => k.id === id),
    profiles,
    profile: (id) => profiles.find((p) => p.id === id),
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

function rank(id) {
  const i = PROFILE_ORDER.indexOf(id);
  return i < 0 ? 99 : i;
}

/**
 * All communes' attributes without geometry (CSV pages of 10 000), with the map
 * indicators: a Map code → record, and the array. About 1,5 Mo compressed nationally.
 */
export async function loadCommuneTable(meta) {
  const fields = COMMUNE_FIELDS.filter((f) => meta.properties.has(f));
  for (const name of meta.properties.keys()) {
    if (/^(acc_|[a-z_]+_km$|[a-z_]+_min$)/.test(name) && !fields.includes(name)) fields.push(name);
  }
  const page = 10000;
  const pages = Math.max(1, Math.ceil((meta.communeCount ?? 0) / page));
  const texts = await Promise.all(Array.from({ length: pages }, (_, i) =>
    apiText(`/collections/communes/items${qs({ f: 'csv', limit: page, offset: i * page, properties: fields.join(',') })}`)));
  const rows = [];
  for (const text of texts) {
    const [head, ...lines] = parseCsv(text);
    if (!head) continue;
    for (const cells of lines) {
      if (cells.length < head.length) continue;
      const r = {};
      head.forEach((k, i) => {
        const v = cells[i];
        if (TEXT_FIELDS.has(k)) r[k] = v === '' ? null : v;
        else r[k] = v === '' ? null : Number(v);
      });
      rows.push(r);
    }
  }
  const byCode = new Map(rows.map((r) => [r.code, r]));
  return { rows, byCode, fields };
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

/**
 * For each kind with a partial list: the set of départements where the list has at least
 * one structure. Elsewhere a "nearest" distance only shows how far the list reaches.
 */
export async function loadCoverage(meta) {
  const out = {};
  await Promise.all(meta.kinds.filter((k) => k.partial && k.available).map(async (k) => {
    const text = await apiText(`/collections/${k.id}/items${qs({ f: 'csv', limit: 10000, properties: 'departement' })}`);
    const [head, ...rows] = parseCsv(text);
    const i = head ? head.indexOf('departement') : -1;
    if (i < 0) return;
    out[k.id] = new Set(rows.map((r) => r[i]).filter(Boolean));
  }));
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

/** "précise (adresse)", "arrondie", "chef-lieu de la commune"… for a structure's `position`. */
export function positionNote(position) {
  switch (position) {
    case 'address':
    case 'adresse':
      return null;
    case 'rounded':
      return 'position arrondie (à environ 1 km près)';
    case 'commune_chef_lieu':
      return 'placée au chef-lieu de sa commune (adresse exacte inconnue)';
    case null:
    case undefined:
    case '':
      return null;
    default:
      return `position : ${position}`;
  }
}
