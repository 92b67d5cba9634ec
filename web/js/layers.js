// « Mes listes » : a planner's own structure list (their MSP, centres de santé,
// consultations avancées…). Choose a CSV or GeoJSON file, map its columns (guessed from
// the header), choose the kind, the territory the list is complete for and who sees it,
// look at the report (rows kept, rows skipped and why) BEFORE saving, then save
// (POST /layers/preview, POST /layers, with the access token saved.js keeps). A saved
// list is drawn as its own layer, never merged with the official points, with its legend
// « liste fournie par <auteur>, <date> », and a popup per structure. Which structures the
// analyses use — the official ones, the list, or both — is the store key
// `facilitiesChoice` ({used, list, name, legend, kinds}); Territoire (summary, coverage),
// Scénario and Détail d'un calcul send it with the token (`listParams`, `withToken`).

import { api, qs } from './api.js';
import { h, fill, errorBox, select, dataTable } from './ui.js';
import { token as keptToken, ensureToken, forgetToken, onToken } from './saved.js';
import { listedPopup } from './popups.js';

const FIELDS = [
  { key: 'name', label: 'Nom de la structure', guess: ['nom', 'name', 'raison_sociale', 'libelle', 'denomination'] },
  { key: 'kind', label: 'Type (colonne)', guess: ['type', 'kind', 'categorie', 'type_structure'] },
  { key: 'lon', label: 'Longitude', guess: ['lon', 'longitude', 'lng', 'x_wgs84', 'long'] },
  { key: 'lat', label: 'Latitude', guess: ['lat', 'latitude', 'y_wgs84'] },
  { key: 'insee', label: 'Code INSEE de la commune', guess: ['code_insee', 'insee', 'code_commune', 'codgeo', 'com', 'commune', 'code_commune_insee'] },
  { key: 'capacity', label: 'Capacité (professionnels, places)', guess: ['capacite', 'capacité', 'nb_professionnels', 'professionnels', 'places', 'capacity'] },
  { key: 'address', label: 'Adresse', guess: ['adresse', 'address', 'adresse_complete'] },
  { key: 'phone', label: 'Téléphone', guess: ['telephone', 'téléphone', 'tel', 'phone'] },
];

const KINDS = [
  { value: 'msp', label: 'Maisons de santé pluriprofessionnelles (MSP)' },
  { value: 'centre_sante', label: 'Centres de santé' },
  { value: 'consultation', label: 'Consultations avancées' },
  { value: 'clic', label: 'CLIC' },
  { value: 'ehpad', label: 'EHPAD' },
  { value: 'ehpa', label: 'EHPA' },
  { value: 'hospital', label: 'Hôpitaux' },
  { value: 'psychiatry', label: 'Psychiatrie' },
  { value: 'ssr', label: 'SSR' },
  { value: 'long_stay', label: 'USLD' },
];

const REASONS = {
  no_position: 'pas de position (ni coordonnées ni code INSEE)',
  unknown_commune: 'code INSEE inconnu',
  bad_commune_code: 'code INSEE mal formé',
  bad_coordinates: 'coordonnées illisibles',
  outside_france: 'hors de France',
  unknown_kind: 'type inconnu',
  bad_capacity: 'capacité illisible',
  duplicate: 'doublon',
  missing_name: 'sans nom',
  malformed_row: 'ligne mal formée',
  bad_feature: 'objet GeoJSON illisible',
  outside_crs_area: 'hors de la zone du système de coordonnées',
};

// Systems the service converts (src/crs.rs), with the area (min x, min y, max x, max y,
// metres) where their points fall, to guess the system from the first rows.
const CRSS = [
  { value: '', label: 'longitude / latitude (WGS84)' },
  { value: 'EPSG:2154', label: 'Lambert-93 (EPSG:2154, en mètres)', area: [50000, 6000000, 1300000, 7200000] },
  { value: 'EPSG:5490', label: 'UTM 20 N, Antilles (EPSG:5490, en mètres)', area: [473000, 1581000, 748000, 2014000] },
  { value: 'EPSG:2972', label: 'UTM 22 N, Guyane (EPSG:2972, en mètres)', area: [88000, 227000, 445000, 653000] },
  { value: 'EPSG:2975', label: 'UTM 40 S, La Réunion (EPSG:2975, en mètres)', area: [307000, 7627000, 386000, 7700000] },
  { value: 'EPSG:4471', label: 'UTM 38 S, Mayotte (EPSG:4471, en mètres)', area: [489000, 8552000, 544000, 8613000] },
  { value: 'EPSG:32621', label: 'UTM 21 N, Saint-Pierre-et-Miquelon (EPSG:32621, en mètres)', area: [536000, 5171000, 574000, 5228000] },
];

const norm = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();

/** The header of a CSV (separator guessed like the service: ; tab or ,) or the property names of a GeoJSON. */
function headerOf(text, format) {
  if (format === 'geojson') {
    try {
      const fc = JSON.parse(text);
      return [...new Set((fc.features ?? []).slice(0, 50).flatMap((f) => Object.keys(f.properties ?? {})))];
    } catch {
      return [];
    }
  }
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  return first.split(separator(first)).map((c) => c.trim().replace(/^"|"$/g, ''));
}

function separator(line) {
  const counts = [';', '\t', ','].map((d) => [d, line.split(d).length - 1]);
  return counts.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

/** [x, y] of the first rows: the mapped lon/lat columns of a CSV (French decimals too), a GeoJSON's points. */
function firstPoints(text, format, lonCol, latCol) {
  if (format === 'geojson') {
    try {
      return (JSON.parse(text).features ?? []).slice(0, 20).map((f) => f?.geometry?.coordinates)
        .filter((c) => Array.isArray(c) && Number.isFinite(c[0]) && Number.isFinite(c[1]));
    } catch {
      return [];
    }
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const sep = separator(lines[0] ?? '');
  const header = lines[0].split(sep).map((c) => c.trim().replace(/^"|"$/g, ''));
  const [i, j] = [header.indexOf(lonCol), header.indexOf(latCol)];
  if (!lonCol || !latCol || i < 0 || j < 0) return [];
  const num = (v) => (v?.trim() ? Number(v.trim().replace(/^"|"$/g, '').replace(',', '.')) : NaN);
  return lines.slice(1, 21).map((l) => l.split(sep)).map((f) => [num(f[i]), num(f[j])])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

/** The projected system of points given in metres (the one whose area holds them, either way round; else Lambert-93), or null for degrees. */
function guessCrs(points) {
  const metres = points.filter(([x, y]) => Math.abs(x) > 1000 || Math.abs(y) > 1000);
  if (!metres.length) return null;
  const inside = ([x0, y0, x1, y1], x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1;
  const fits = (c) => c.area && metres.every(([x, y]) => inside(c.area, x, y) || inside(c.area, y, x));
  return { crs: CRSS.find(fits) ?? CRSS[1], example: metres[0] };
}

function frDate(iso) {
  return iso ? iso.slice(0, 10).split('-').reverse().join('/') : '';
}

function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function call(path, { method = 'GET', body, token } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}), ...authHeaders(token) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw Object.assign(new Error(`le service ne répond pas (${e.message})`), { status: 0 });
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(data?.detail ?? `statut ${res.status}`), { status: res.status });
  return data;
}

/* ------------------------------------------------------------ the choice, for the analyses */

/** The official structures only: the choice when no list is chosen. */
export const OFFICIAL = Object.freeze({ used: 'official' });

/** The choice of the store, or the official structures. */
export function choiceOf(store) {
  return store.get('facilitiesChoice') ?? OFFICIAL;
}

/**
 * Whether a choice uses a list for a kind: a list holds the kinds of its rows (a choice
 * restored from a saved scenario does not know them: its list was used for its kind).
 */
export function usesList(choice, kind) {
  if (!choice?.list || choice.used === 'official') return false;
  return kind == null || !Array.isArray(choice.kinds) || choice.kinds.includes(kind);
}

/** `facilities` and `list` of an analysis for a kind (nothing for the official structures). */
export function listParams(choice, kind) {
  return usesList(choice, kind) ? { facilities: choice.used, list: choice.list } : {};
}

/**
 * Which structures an answer used, in words, from its `facilities` member ({used, list:
 * {name…}}) or a choice ({used, name}): « la liste « X » seule », « les structures
 * officielles et la liste « X » » or « les structures officielles ».
 */
export function usedWords(f) {
  const name = f?.list?.name ?? f?.name;
  if (!f || f.used === 'official' || !name) return 'les structures officielles';
  return f.used === 'list' ? `la liste « ${name} » seule` : `les structures officielles et la liste « ${name} »`;
}

/** The list and line of a structure id of a list (`liste:<list>:<line>`), or null. */
export function listSite(id) {
  const m = /^liste:(.+):(\d+)$/.exec(String(id ?? ''));
  return m ? { list: m[1], line: Number(m[2]) } : null;
}

/**
 * An analysis that may use a private list: with the token when there is one (a refused
 * token is forgotten). `opts` as for api() (method, body, signal).
 */
export async function withToken(path, opts = {}) {
  try {
    return await api(path, { ...opts, token: keptToken() });
  } catch (e) {
    if (e.status === 401) forgetToken();
    throw e;
  }
}

/**
 * What a refusal means when the analysis used a list, for errorBox's `what` (undefined when
 * the refusal is about something else): a private list is read with its author's token
 * only, a deleted one is gone.
 */
export function listRefusal(choice, e) {
  if (!choice?.list || !(e?.status === 401 || e?.status === 403 || /\b(list|layer)\b/i.test(e?.detail ?? ''))) return undefined;
  const name = choice.name ?? choice.list?.name;
  const which = name ? `la liste « ${name} »` : 'la liste de structures choisie';
  const text = `${which} n’est pas lisible ici (liste privée d’un autre planificateur, jeton absent ou liste supprimée) : connectez-vous avec le jeton de son auteur, ou revenez aux structures officielles.`;
  return { 400: text, 401: 'jeton refusé : il est inconnu ou a été révoqué. Connectez-vous avec un jeton valable.', 403: text, 404: text, 422: text };
}

/* ------------------------------------------------------------ the lists on the map */

/**
 * The lists drawn on the map, made once by app.js (`ctx.lists`), so that every view can
 * show one: show(list) / hide(id) with their legend, a popup per structure, items(id)
 * (the list's structures, read once), at(point) (the list structure under a pixel, as a
 * structure the scenario can remove: id `liste:<list>:<line>`).
 */
export function createListLayers(ctx) {
  const { mapCtl } = ctx;
  const shown = new Map(); // list id → {layer, list}
  const cache = new Map(); // list id → promise of its FeatureCollection
  const legend = h('div', { class: 'map-legend list-legend', id: 'list-legend', hidden: true });
  document.querySelector('.map-area')?.append(legend);
  // Another token may read other lists (or no longer read a private one).
  onToken(() => cache.clear());

  function items(listId) {
    if (!cache.has(listId)) {
      const p = call(`/layers/${encodeURIComponent(listId)}/items${qs({ limit: 10000 })}`, { token: keptToken() });
      p.catch(() => cache.delete(listId));
      cache.set(listId, p);
    }
    return cache.get(listId);
  }

  function drawLegend() {
    legend.hidden = shown.size === 0;
    fill(legend, ...[...shown.values()].map(({ list }) => h('p', { class: 'list-legend-item' },
      h('span', { class: 'list-swatch', 'aria-hidden': 'true' }), ` ${list.name} : ${list.legend}`)));
  }

  /** Draws a list as its own layer (never merged with the official points). */
  async function show(l) {
    const map = mapCtl.map;
    const src = `liste-${l.id}`;
    const fc = await items(l.id);
    if (!map.getSource(src)) {
      map.addSource(src, { type: 'geojson', data: fc });
      map.addLayer({
        id: `${src}-points`,
        type: 'circle',
        source: src,
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 5, 4, 10, 8],
          'circle-color': '#ffffff',
          'circle-stroke-color': '#6a1b9a',
          'circle-stroke-width': 3,
        },
      }, map.getLayer('scenario') ? 'scenario' : undefined); // under the scenario's sites (an added star, a removed cross)
    } else {
      map.getSource(src).setData(fc);
    }
    shown.set(l.id, { layer: `${src}-points`, list: { id: l.id, name: l.name ?? fc.name, legend: l.legend ?? fc.legend } });
    drawLegend();
    const cb = document.getElementById(`list-show-${l.id}`);
    if (cb) cb.checked = true;
  }

  function hide(listId) {
    const s = shown.get(listId);
    if (!s) return;
    const map = mapCtl.map;
    if (map.getLayer(s.layer)) map.removeLayer(s.layer);
    if (map.getSource(`liste-${listId}`)) map.removeSource(`liste-${listId}`);
    shown.delete(listId);
    drawLegend();
    const cb = document.getElementById(`list-show-${listId}`);
    if (cb) cb.checked = false;
  }

  /** A list's row as a structure (the scenario removes it by this id). */
  function asStructure(listId, f) {
    const p = f.properties;
    return {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: f.geometry.coordinates },
      properties: { ...p, id: `liste:${listId}:${p.line}`, nom: p.name, kind: p.kind, liste: listId },
    };
  }

  /** The list structure under a pixel (the first list drawn there), or null. */
  function at(point, pad = 7) {
    const map = mapCtl.map;
    const layers = [...shown.values()].map((s) => s.layer).filter((l) => map.getLayer(l));
    if (!layers.length) return null;
    const f = map.queryRenderedFeatures([[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]], { layers })[0];
    if (!f) return null;
    const listId = f.layer.id.replace(/^liste-/, '').replace(/-points$/, '');
    return { list: shown.get(listId).list, structure: asStructure(listId, f) };
  }

  // A click on a list's structure opens its popup (views are asked first: the scenario
  // removes it in its « retirer » mode).
  mapCtl.onClick(({ point }) => {
    const hit = at(point);
    if (!hit) return false;
    listedPopup(ctx, hit.structure, hit.list);
    return true;
  });

  return {
    show,
    hide,
    isShown: (listId) => shown.has(listId),
    items,
    at,
    /** The structures of a list as structures of the scenario (ids `liste:<list>:<line>`). */
    async structures(listId) {
      const fc = await items(listId);
      return fc.features.map((f) => asStructure(listId, f));
    },
  };
}

let uid = 0;

/**
 * The « Mes listes » panel for the Territoire view. `ctx.store` gets `facilitiesChoice`
 * ({used: 'official'|'list'|'both', list, name, legend, kinds}) for the analyses.
 */
export function createListsPanel(ctx) {
  const { store } = ctx;
  const { show: showList, hide: hideList, isShown } = ctx.lists;

  /* ------------------------------------------------------------ upload form */
  const id = `liste-${++uid}`;
  const file = h('input', { type: 'file', id: `${id}-file`, accept: '.csv,.txt,.geojson,.json,text/csv,application/geo+json' });
  const status = h('p', { class: 'saved-status', id: 'list-status', role: 'status', 'aria-live': 'polite' });
  const columnsBox = h('div', { class: 'list-columns', id: 'list-columns' });
  const reportBox = h('div', { class: 'list-report', id: 'list-report' });
  const kindSel = select({ label: 'Nature des structures de la liste (si le fichier n’a pas de colonne type)', options: KINDS, value: 'msp' });
  const scopeInput = h('input', { type: 'text', id: `${id}-scope`, value: '', placeholder: 'ex. cls:thouarsais, dep:79, epci:247900798', autocomplete: 'off' });
  const nameInput = h('input', { type: 'text', id: `${id}-name`, value: '', autocomplete: 'off' });
  const visSel = select({ label: 'Visibilité', options: [{ value: 'private', label: 'Privée (moi seul)' }, { value: 'public', label: 'Publique (tout le monde)' }], value: 'private' });
  const crsSel = select({ label: 'Coordonnées', options: CRSS, value: '' });
  crsSel.select.id = 'list-crs';
  crsSel.el.querySelector('label')?.setAttribute('for', 'list-crs');
  const crsHint = h('p', { class: 'hint', id: 'list-crs-hint' });
  const previewBtn = h('button', { type: 'button', id: 'list-preview', class: 'secondary', disabled: true }, 'Vérifier le fichier');
  const saveBtn = h('button', { type: 'button', id: 'list-save', disabled: true }, 'Enregistrer la liste');
  let content = null;
  let format = 'csv';
  const colSelects = {};

  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    saveBtn.disabled = true;
    fill(reportBox);
    if (!f) return;
    content = await f.text();
    format = /\.(geo)?json$/i.test(f.name) ? 'geojson' : 'csv';
    if (!nameInput.value) nameInput.value = f.name.replace(/\.[^.]+$/, '');
    const header = headerOf(content, format);
    const options = [{ value: '', label: '— aucune —' }, ...header.map((c) => ({ value: c, label: c }))];
    fill(columnsBox,
      h('p', { class: 'hint' }, format === 'geojson'
        ? 'GeoJSON : la position vient de la géométrie ; choisissez les propriétés.'
        : `Colonnes du fichier : ${header.join(', ')}. Vérifiez la correspondance devinée.`),
      ...FIELDS.filter((fd) => format === 'csv' || !['lon', 'lat'].includes(fd.key)).map((fd) => {
        const guessed = header.find((c) => fd.guess.includes(norm(c))) ?? '';
        const s = select({ label: fd.label, options, value: guessed });
        s.select.id = `list-col-${fd.key}`;
        s.el.querySelector('label')?.setAttribute('for', s.select.id);
        colSelects[fd.key] = s.select;
        return s.el;
      }));
    for (const k of Object.keys(colSelects)) if (!columnsBox.contains(colSelects[k])) delete colSelects[k];
    columnsBox.append(crsSel.el, crsHint);
    for (const k of ['lon', 'lat']) colSelects[k]?.addEventListener('change', preselectCrs);
    preselectCrs();
    previewBtn.disabled = false;
    status.textContent = `Fichier « ${f.name} » lu (${format.toUpperCase()}). Vérifiez les colonnes puis « Vérifier le fichier ».`;
  });

  /** Lambert-93 (or the overseas system) preselected when the first rows hold metres, not degrees. */
  function preselectCrs() {
    const guess = guessCrs(firstPoints(content, format, colSelects.lon?.value, colSelects.lat?.value));
    crsSel.select.value = guess?.crs.value ?? '';
    crsHint.textContent = guess
      ? `Les premières lignes ont des coordonnées en mètres (${guess.example.join(' ; ')}) : « ${guess.crs.label} » est présélectionné. Vérifiez.`
      : '';
  }

  function body() {
    const columns = {};
    for (const [k, s] of Object.entries(colSelects)) if (s.value) columns[k] = s.value;
    const crs = crsSel.select.value;
    return { format, content, columns, ...(crs ? { crs } : {}), ...(columns.kind ? {} : { kind: kindSel.select.value }) };
  }

  /** The system the service read, as the select names it. */
  function crsRead(text) {
    const code = text.split(' ')[0];
    return code === 'EPSG:4326' ? CRSS[0].label : CRSS.find((c) => c.value === code)?.label ?? text;
  }

  function renderReport(r) {
    const skipped = r.skipped_rows ?? [];
    fill(reportBox,
      h('p', { class: 'summary-line', id: 'list-report-summary' },
        h('strong', null, `${r.kept} ligne${r.kept > 1 ? 's' : ''} retenue${r.kept > 1 ? 's' : ''}`),
        ` sur ${r.rows_read} lue${r.rows_read > 1 ? 's' : ''}`,
        r.skipped ? `, ${r.skipped} écartée${r.skipped > 1 ? 's' : ''}.` : ', aucune écartée.'),
      r.crs ? h('p', { class: 'hint', id: 'list-report-crs' }, `Coordonnées lues en ${crsRead(r.crs)}.`) : null,
      skipped.length ? dataTable({
        id: 'list-skipped',
        caption: 'Lignes écartées et pourquoi',
        columns: [
          { key: 'line', label: 'Ligne', num: true },
          { key: 'reason', label: 'Raison', value: (x) => REASONS[x.reason] ?? x.reason },
          { key: 'detail', label: 'Détail' },
        ],
        rows: skipped,
      }).el : null,
      (r.notes ?? []).length ? h('ul', { class: 'kind-notes' }, r.notes.map((n) => h('li', null, n))) : null);
  }

  previewBtn.addEventListener('click', async () => {
    if (!content) return;
    const t = await ensureToken();
    if (!t) { status.textContent = 'Il faut un jeton d’accès pour vérifier et enregistrer une liste.'; return; }
    status.textContent = 'Vérification…';
    saveBtn.disabled = true;
    try {
      const p = await call('/layers/preview', { method: 'POST', body: body(), token: t });
      renderReport(p.report);
      const positioned = p.rows.filter((x) => x.position === 'commune').length;
      status.textContent = `Vérification faite : ${p.report.kept} structure(s) retenue(s)${positioned ? `, dont ${positioned} placée(s) au chef-lieu de leur commune` : ''}. Rien n’est encore enregistré.`;
      saveBtn.disabled = p.report.kept === 0;
    } catch (e) {
      if (e.status === 401) forgetToken();
      fill(reportBox, errorBox(e));
      status.textContent = `Le fichier n’a pas pu être lu : ${e.message}`;
    }
  });

  saveBtn.addEventListener('click', async () => {
    const t = await ensureToken();
    if (!t) { status.textContent = 'Il faut un jeton d’accès pour enregistrer une liste.'; return; }
    const scope = scopeInput.value.trim();
    if (!scope) { status.textContent = 'Indiquez le territoire pour lequel la liste est complète (ex. cls:thouarsais).'; scopeInput.focus(); return; }
    if (!nameInput.value.trim()) { status.textContent = 'Donnez un nom à la liste.'; nameInput.focus(); return; }
    status.textContent = 'Enregistrement…';
    try {
      const made = await call('/layers', {
        method: 'POST',
        token: t,
        body: { ...body(), name: nameInput.value.trim(), visibility: visSel.select.value, scope },
      });
      saveBtn.disabled = true;
      await refresh();
      await showList(made);
      // Said once the list is on the map (the browser test waits for these words).
      status.textContent = `Liste « ${made.name} » enregistrée (${made.items} structures) : elle est sur la carte.`;
      useSel.select.value = 'both';
      listSel.select.value = made.id;
      publishChoice();
    } catch (e) {
      if (e.status === 401) forgetToken();
      status.textContent = `La liste n’a pas été enregistrée : ${e.message}`;
    }
  });

  /* ------------------------------------------------------------ saved lists and their use */
  const listsBox = h('ul', { class: 'lists', id: 'lists-saved' });
  const useSel = select({
    label: 'Structures utilisées par les analyses',
    hint: 'Couverture, résumé du territoire, scénarios et détail d’un calcul, pour les types de structures de la liste.',
    options: [
      { value: 'official', label: 'Données officielles' },
      { value: 'list', label: 'Ma liste seule' },
      { value: 'both', label: 'Données officielles et ma liste' },
    ],
    value: 'official',
    onChange: () => publishChoice(),
  });
  useSel.select.id = 'list-use';
  useSel.el.querySelector('label')?.setAttribute('for', 'list-use');
  const listSel = select({ label: 'Liste utilisée', options: [], onChange: () => publishChoice() });
  listSel.select.id = 'list-chosen';
  listSel.el.querySelector('label')?.setAttribute('for', 'list-chosen');
  let lists = [];

  function publishChoice() {
    const used = useSel.select.value;
    const l = lists.find((x) => x.id === listSel.select.value);
    store.set('facilitiesChoice', used === 'official' || !l ? OFFICIAL
      : { used, list: l.id, name: l.name, legend: l.legend, scope: l.scope, kinds: Object.keys(l.kinds ?? {}) });
  }
  /** The selects say the choice of the store (another view may go back to the official structures). */
  function showChoice(c = choiceOf(store)) {
    useSel.select.value = c.list ? c.used : 'official';
    if (c.list && lists.some((x) => x.id === c.list)) listSel.select.value = c.list;
  }
  store.subscribe('facilitiesChoice', (c) => showChoice(c ?? OFFICIAL));

  async function refresh() {
    try {
      const t = keptToken();
      const r = await call('/layers', { token: t });
      lists = r.layers;
    } catch {
      lists = [];
    }
    fill(listSel.select, ...lists.map((l) => h('option', { value: l.id }, `${l.name} — ${l.author}`)));
    showChoice();
    fill(listsBox, ...lists.map((l) => {
      const cb = h('input', { type: 'checkbox', id: `list-show-${l.id}`, checked: isShown(l.id) });
      cb.addEventListener('change', () => (cb.checked ? showList(l) : hideList(l.id)));
      return h('li', null, cb, h('label', { for: cb.id }, ` ${l.name} `),
        h('span', { class: 'hint' }, `(${l.legend} ; complète pour ${l.scope} ; ${l.items} structure(s))`));
    }));
    if (!lists.length) fill(listsBox, h('li', { class: 'hint' }, 'Aucune liste enregistrée visible.'));
  }

  const el = h('details', { class: 'lists-panel', id: 'lists-panel' },
    h('summary', null, 'Mes listes de structures'),
    h('p', { class: 'hint' }, 'Ajoutez vos MSP, centres de santé ou consultations avancées (fichier CSV ou GeoJSON). La liste est montrée à part sur la carte et peut être utilisée par les analyses (couverture, résumé, scénarios, détail d’un calcul), seule ou avec les données officielles.'),
    h('div', { class: 'field' }, h('label', { for: file.id }, 'Fichier (CSV ou GeoJSON)'), file),
    columnsBox,
    kindSel.el,
    h('div', { class: 'field' }, h('label', { for: scopeInput.id }, 'Périmètre où la liste est complète'), scopeInput,
      h('p', { class: 'hint' }, 'Hors de ce territoire, les résultats diront que la liste ne couvre pas la commune.')),
    h('div', { class: 'field' }, h('label', { for: nameInput.id }, 'Nom de la liste'), nameInput),
    visSel.el,
    h('div', { class: 'buttons' }, previewBtn, ' ', saveBtn),
    status,
    reportBox,
    h('h3', null, 'Listes enregistrées'),
    listsBox,
    h('div', { class: 'row' }, useSel.el, listSel.el));
  kindSel.select.id = 'list-kind';
  kindSel.el.querySelector('label')?.setAttribute('for', 'list-kind');
  visSel.select.id = 'list-visibility';
  visSel.el.querySelector('label')?.setAttribute('for', 'list-visibility');
  el.addEventListener('toggle', () => { if (el.open) refresh(); });
  return {
    el,
    /** Sets the scope field from the territory shown (cls:thouarsais…). */
    territory(type, code) {
      if (!scopeInput.value) scopeInput.value = `${type === 'departement' ? 'dep' : type === 'region' ? 'reg' : type}:${code}`;
    },
  };
}
