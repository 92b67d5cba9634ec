// careaccess web map: boots the map, builds the context every view receives (complete
// before any view exists), creates the five views, and routes with the URL hash
// (#carte, #territoire/cls/thouarsais, #trouver/79329, #scenario, #calcul/79329/mg).
// Views never import each other: what they share goes through ctx and its store.

import { loadMeta, communeTable, FIRST_FIELDS, loadFacilities } from './meta.js';
import { buildIndicators, prepareIndicator } from './indicators.js';
import { createMap } from './map.js';
import { createStore } from './store.js';
import { createFacilityLayers } from './facilities.js';
import { createListLayers } from './layers.js';
import { h, fill, errorBox } from './ui.js';
import { closePopup, communePopup, facilityPopup } from './popups.js';
import { createCarte, firstIndicatorColumns } from './views/carte.js';
import { createTerritoire } from './views/territoire.js';
import { createTrouver } from './views/trouver.js';
import { createScenario } from './views/scenario.js';
import { createCalcul } from './views/calcul.js';

const VIEWS = ['carte', 'territoire', 'trouver', 'scenario', 'calcul'];
const BASEMAP_KEY = 'careaccess.fond';

const $ = (s) => document.querySelector(s);
const mapStatus = $('#map-status');

function setMapStatus(text, state) {
  mapStatus.dataset.state = state ?? '';
  if (!text) { fill(mapStatus); mapStatus.hidden = true; return; }
  mapStatus.hidden = false;
  fill(mapStatus, state === 'loading' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null, text);
}

/* ------------------------------------------------------------ basemap setting */

function basemapUrl() {
  const fromQuery = new URLSearchParams(location.search).get('fond');
  if (fromQuery != null) return validBasemap(fromQuery) ? fromQuery : null;
  const stored = localStorage.getItem(BASEMAP_KEY);
  return stored && validBasemap(stored) ? stored : null;
}
function validBasemap(u) {
  return /^https?:\/\/.+/.test(u) && u.includes('{z}') && u.includes('{x}') && u.includes('{y}');
}
function setupSettings() {
  const dlg = $('#settings');
  const input = $('#basemap-url');
  const err = $('#settings-error');
  $('#settings-open').addEventListener('click', () => {
    input.value = localStorage.getItem(BASEMAP_KEY) ?? '';
    err.hidden = true;
    dlg.showModal();
    input.focus();
  });
  dlg.addEventListener('close', () => {
    if (dlg.returnValue === 'clear') {
      localStorage.removeItem(BASEMAP_KEY);
      reloadWithoutFond();
    }
  });
  $('#settings-save').addEventListener('click', (e) => {
    const v = input.value.trim();
    if (!validBasemap(v)) {
      e.preventDefault();
      err.hidden = false;
      err.textContent = "Adresse non valable : elle doit commencer par http:// ou https:// et contenir {z}, {x} et {y}.";
      input.focus();
      return;
    }
    localStorage.setItem(BASEMAP_KEY, v);
    reloadWithoutFond();
  });
}
function reloadWithoutFond() {
  const u = new URL(location.href);
  u.searchParams.delete('fond');
  location.replace(u.toString());
}

/* ------------------------------------------------------------ tabs and routing */

const tabs = [...document.querySelectorAll('[role=tab]')];
let current = null;
let views = {};

function setupTabs() {
  for (const t of tabs) {
    t.addEventListener('click', () => go(t.dataset.view));
    t.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(t);
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
      else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
      else if (e.key === 'Home') j = 0;
      else if (e.key === 'End') j = tabs.length - 1;
      if (j == null) return;
      e.preventDefault();
      tabs[j].focus();
      go(tabs[j].dataset.view);
    });
  }
}

function parseHash() {
  const [view, ...rest] = decodeURIComponent(location.hash.replace(/^#/, '')).split('/');
  return { view: VIEWS.includes(view) ? view : 'carte', args: rest.filter((x) => x !== '') };
}

/** Shows a view; args go to the view (e.g. ['cls', 'thouarsais']). */
function go(view, args = [], { replace = false } = {}) {
  const hash = `#${[view, ...args].map(encodeURIComponent).join('/')}`;
  if (location.hash !== hash) {
    if (replace) history.replaceState(null, '', hash);
    else history.pushState(null, '', hash);
  }
  show(view, args);
}

function show(view, args) {
  for (const t of tabs) {
    const on = t.dataset.view === view;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
  }
  document.documentElement.dataset.view = view;
  const label = tabs.find((t) => t.dataset.view === view)?.textContent.trim();
  document.title = `${label} — careaccess, l'accès aux soins`;
  if (current && current !== view) views[current].hide();
  const changed = current !== view;
  if (changed) {
    // A popup of the previous view would cover the next one; a new view opens at its top.
    closePopup();
    const panel = document.getElementById('panel');
    if (panel) panel.scrollTop = 0;
  }
  current = view;
  views[view].show(args, { changed });
}

/* ------------------------------------------------------------ boot */

async function boot() {
  // Escape closes the map's popup (a dialog's own Escape handling runs first).
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.defaultPrevented && document.querySelector('.maplibregl-popup')) closePopup();
  });
  setupSettings();
  setupTabs();
  const basemap = basemapUrl();
  // A link to a view with a place (a commune, a territory…) moves the camera itself.
  const linked = parseHash();
  const placed = linked.view === 'carte' || linked.args.length === 0;
  const mapCtl = createMap({ container: 'map', basemap, onStatus: setMapStatus, hintEl: $('#map-hint'), placed });
  window.careaccess = { map: mapCtl.map, mapCtl };

  let meta;
  try {
    meta = await loadMeta();
  } catch (e) {
    fill($('#boot'), errorBox(e), h('p', null, 'La carte ne peut pas démarrer sans la description des données. Rechargez la page quand le service répond.'));
    setMapStatus(e.message, 'error');
    return;
  }
  // The commune table by columns: what the first view needs now, the rest once the map
  // shows its colours (whatever the view: the views that need more wait for tableReady).
  const communes = communeTable(meta);
  const first = linked;
  const firstReady = communes.ensure(FIRST_FIELDS);
  firstReady.catch(() => {}); // its error is shown where the table is needed
  if (first.view === 'carte') communes.ensure(firstIndicatorColumns(first.args)).catch(() => {});
  const firstShown = Promise.race([mapCtl.coloured, new Promise((r) => { setTimeout(r, 8000); })]);
  const tableReady = firstReady.then(() => firstShown).then(() => communes.ensure(communes.fields));
  tableReady.catch(() => {});
  await mapCtl.ready;

  // Data that arrives later is reached through promises (tableReady…) or is null until
  // then (table…); everything else is in place before the first view is created.
  const store = createStore({ territory: null });
  const layers = createFacilityLayers({ mapCtl, meta, store });
  const ctx = {
    mapCtl,
    meta,
    store,
    /** Structure layers on the map: layers.show(kind) makes a kind visible. */
    layers,
    basemap,
    go,
    get view() { return current; },
    /** The commune table as loaded so far (columns come as needed: communes.ensure). */
    communes,
    /** The whole commune table, once every column is loaded (null until then). */
    table: null,
    tableReady,
    indicators: null,
    // Indicator classes by quantiles are made when the indicator is first shown.
    indicatorsReady: firstReady.catch(() => null).then((t) => buildIndicators(meta, t)),
    /** Loads an indicator's columns (and makes its classes): resolves to the indicator. */
    prepareIndicator: (ind) => prepareIndicator(ind, communes),
    facilities: (kind) => loadFacilities(kind),
    communeName(code) {
      const r = ctx.table?.byCode.get(code);
      return r ? r.nom : code;
    },
    popupCommune: (feature, lngLat) => {
      // Below zoom 8 a tile feature has only its rank: the popup wants the code.
      const row = feature.properties?.code ? null : mapCtl.communeRow(feature);
      return communePopup(ctx, row ? { ...feature, properties: { ...feature.properties, code: row.code } } : feature, lngLat);
    },
    popupFacility: (feature) => facilityPopup(ctx, feature),
    /** Planners' lists on the map (layers.js): lists.show(list), lists.at(point)… Made below. */
    lists: null,
  };
  window.careaccess.ctx = ctx;
  tableReady.then((t) => { ctx.table = t; }).catch(() => {});
  ctx.indicatorsReady.then((list) => { ctx.indicators = list; }).catch(() => {});

  // Default map click: popups. Views register theirs when created, and are asked first.
  mapCtl.onClick(({ facility, commune, lngLat }) => {
    if (facility) { ctx.popupFacility(facility); return true; }
    if (commune) { ctx.popupCommune(commune, lngLat); return true; }
    return false;
  });
  // After the default click: a list's structure (drawn over the official ones) is asked first.
  ctx.lists = createListLayers(ctx);
  views = {
    carte: createCarte(ctx, $('#view-carte')),
    territoire: createTerritoire(ctx, $('#view-territoire')),
    trouver: createTrouver(ctx, $('#view-trouver')),
    scenario: createScenario(ctx, $('#view-scenario')),
    calcul: createCalcul(ctx, $('#view-calcul')),
  };
  $('#boot').remove();
  window.addEventListener('popstate', () => { const { view, args } = parseHash(); show(view, args); });
  const { view, args } = parseHash();
  go(view, args, { replace: true });
  document.documentElement.dataset.ready = 'true';
}

boot().catch((e) => {
  console.error(e);
  const b = $('#boot');
  if (b) fill(b, errorBox(e));
  else document.body.prepend(errorBox(e));
});
