// Custom perimeters in the Territoire view: « Mes périmètres » (the public ones and, with
// a token, the caller's own: open, rename, delete) and « Créer un périmètre », either a
// named list of communes (search by name or INSEE code, or paste codes) or a polygon
// drawn on the map (click the corners, double-click or « Terminer » to close; the service
// takes the communes whose reference point is inside). A saved perimeter opens as the
// territory perimeter/<id> (#territoire/perimeter/<id>). The list is the keyboard's way:
// drawing needs a pointer. Map layers of its own (perimeter-draw-*, perimeter-outline-*):
// the drawing and the outline of the perimeter shown.

import { h, fill, searchBox, newId, CLICK } from './ui.js';
import { api, qs } from './api.js';
import { call, ensureToken, savedError, mine } from './saved.js';
import { habitants, plural } from './format.js';

const INSEE = /^(\d{5}|2[AB]\d{3})$/i;
const EMPTY = { type: 'FeatureCollection', features: [] };

/** Whether [x, y] is inside the ring (even-odd rule; the service uses geo's Contains). */
function inside([x, y], ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

export function createPerimeters(ctx) {
  const { mapCtl } = ctx;
  const map = mapCtl.map;
  let mode = 'list';
  const members = new Map(); // code → name
  let vertices = []; // [lon, lat]
  let drawing = false;
  let closed = false;
  let outlined = null; // id of the perimeter outlined

  /* ------------------------------------------------------------ map layers */
  function layers() {
    if (map.getSource('perimeter-draw')) return;
    map.addSource('perimeter-draw', { type: 'geojson', data: EMPTY });
    map.addSource('perimeter-outline', { type: 'geojson', data: EMPTY });
    map.addLayer({ id: 'perimeter-outline-halo', type: 'line', source: 'perimeter-outline', paint: { 'line-color': '#ffffff', 'line-width': 9, 'line-opacity': 0.9 } });
    map.addLayer({ id: 'perimeter-outline-line', type: 'line', source: 'perimeter-outline', paint: { 'line-color': '#000000', 'line-width': 4 } });
    map.addLayer({ id: 'perimeter-draw-fill', type: 'fill', source: 'perimeter-draw', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#6a1b9a', 'fill-opacity': 0.15 } });
    map.addLayer({ id: 'perimeter-draw-line', type: 'line', source: 'perimeter-draw', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#6a1b9a', 'line-width': 3, 'line-dasharray': [2, 1] } });
    map.addLayer({ id: 'perimeter-draw-points', type: 'circle', source: 'perimeter-draw', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 6, 'circle-color': '#6a1b9a', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 } });
  }
  layers();
  const setSource = (id, data) => map.getSource(id)?.setData(data);

  function drawShape() {
    const pts = vertices.map((c) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } }));
    const shape = closed && vertices.length >= 3
      ? [{ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[...vertices, vertices[0]]] } }]
      : vertices.length >= 2 ? [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: vertices } }] : [];
    setSource('perimeter-draw', { type: 'FeatureCollection', features: [...shape, ...pts] });
  }

  mapCtl.onClick(({ lngLat }) => {
    if (!drawing || ctx.view !== 'territoire') return false;
    vertices.push([Math.round(lngLat.lng * 1e6) / 1e6, Math.round(lngLat.lat * 1e6) / 1e6]);
    drawShape();
    renderDraw();
    return true;
  });
  map.on('dblclick', (e) => {
    if (!drawing || ctx.view !== 'territoire') return;
    e.preventDefault();
    finish();
  });

  /* ------------------------------------------------------------ form */
  const nameId = newId('pname');
  const nameInput = h('input', { id: nameId, type: 'text', maxlength: '200', autocomplete: 'off', placeholder: 'ex. CPTS du Nord Deux-Sèvres' });
  const publicId = newId('ppublic');
  const publicInput = h('input', { id: publicId, type: 'checkbox' });
  const modeName = newId('pmode');
  const modeBox = h('fieldset', { class: 'modes' }, h('legend', null, 'Communes du périmètre'),
    [['list', 'Liste de communes'], ['draw', 'Polygone dessiné sur la carte']].map(([v, label]) => {
      const id = `${modeName}-${v}`;
      return h('span', { class: 'radio' },
        h('input', { type: 'radio', name: modeName, id, value: v, checked: v === mode, onchange: () => { mode = v; renderMode(); } }),
        h('label', { for: id }, label));
    }));

  const chips = h('ul', { class: 'chips members', 'aria-label': 'Communes ajoutées' });
  const listNote = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
  const search = searchBox({
    label: 'Ajouter une commune',
    placeholder: 'nom ou code INSEE, ex. Thouars ou 79329',
    hint: 'Choisissez dans la liste avec les flèches puis Entrée ; la commune s’ajoute à la liste.',
    source: async (q, signal) => {
      if (INSEE.test(q.trim())) {
        const code = q.trim().toUpperCase();
        const row = ctx.table?.byCode.get(code);
        return [{ label: row?.nom ?? code, detail: `Code INSEE ${code}`, value: { code, nom: row?.nom ?? code } }];
      }
      const r = await api(`/search${qs({ q, type: 'commune', limit: 10 })}`, { signal });
      return r.results.map((x) => ({ label: x.nom, detail: `${x.code} · ${habitants(x.population)}`, value: x }));
    },
    onPick: (x) => { add([[x.code, x.nom]]); search.set(''); search.input.focus(); },
  });
  const pasteId = newId('ppaste');
  const paste = h('textarea', { id: pasteId, rows: '2', placeholder: '79329 79014 79196…', 'aria-describedby': `${pasteId}-hint` });
  const listBox = h('div', { class: 'perimeter-list' },
    search.el,
    h('div', { class: 'field' },
      h('label', { for: pasteId }, 'Ou collez des codes INSEE'),
      paste,
      h('p', { class: 'hint', id: `${pasteId}-hint` }, 'Séparés par des espaces, virgules ou retours à la ligne.'),
      h('button', { type: 'button', class: 'secondary small', id: 'perimeter-paste-add', onclick: addPasted }, 'Ajouter ces codes')),
    chips, listNote);

  const drawNote = h('div', { class: 'draw-status', role: 'status', 'aria-live': 'polite', id: 'perimeter-draw-status' });
  const startBtn = h('button', { type: 'button', class: 'secondary', id: 'perimeter-draw-start', onclick: start }, 'Commencer le dessin');
  const undoBtn = h('button', { type: 'button', class: 'secondary', id: 'perimeter-draw-undo', onclick: undo }, 'Retirer le dernier point');
  const finishBtn = h('button', { type: 'button', id: 'perimeter-draw-finish', onclick: finish }, 'Terminer');
  const cancelBtn = h('button', { type: 'button', class: 'secondary', id: 'perimeter-draw-cancel', onclick: cancelDraw }, 'Annuler');
  const drawBox = h('div', { class: 'perimeter-draw' },
    h('p', { class: 'hint' }, `${CLICK} la carte pour placer les sommets du polygone, puis double-cliquez ou « Terminer ». Les communes dont le chef-lieu est dans le polygone seront prises. Sans souris, utilisez la liste de communes.`),
    h('div', { class: 'buttons' }, startBtn, undoBtn, finishBtn, cancelBtn),
    drawNote);

  const status = h('div', { class: 'perimeter-status', id: 'perimeter-status', role: 'status', 'aria-live': 'polite' });
  const saveBtn = h('button', { type: 'button', id: 'perimeter-save', onclick: save }, 'Enregistrer le périmètre');
  const form = h('details', { class: 'perimeter-create', id: 'perimeter-create' },
    h('summary', null, 'Créer un périmètre'),
    h('div', { class: 'field' }, h('label', { for: nameId }, 'Nom du périmètre'), nameInput),
    modeBox, listBox, drawBox,
    h('div', { class: 'field check' }, publicInput, h('label', { for: publicId }, 'Public : visible de tous dans « Mes périmètres » et la collection OGC')),
    h('div', { class: 'buttons' }, saveBtn));
  form.addEventListener('toggle', () => { if (!form.open) stopDrawing(); });

  const list = mine({
    id: 'my-perimeters',
    title: 'Mes périmètres',
    path: '/perimeters',
    key: 'perimeters',
    what: 'périmètre',
    withoutToken: true,
    open: (p) => ctx.go('territoire', ['perimeter', p.id]),
    item: (p) => `${plural(p.communes_count, 'commune')} · ${p.public ? 'public' : 'privé'}`,
    visible: (p) => p.may_change,
  });

  const el = h('section', { class: 'perimeters', id: 'perimeters', 'aria-label': 'Périmètres personnalisés' }, list.el, form, status);

  /* ------------------------------------------------------------ list of communes */
  function add(pairs, note) {
    for (const [code, nom] of pairs) members.set(code, nom);
    renderList(note ?? (pairs.length === 1 ? `${pairs[0][1]} ajoutée ; ${plural(members.size, 'commune')} dans la liste.` : null));
  }
  function addPasted() {
    const codes = paste.value.split(/[\s,;]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
    const bad = codes.filter((c) => !INSEE.test(c));
    const unknown = codes.filter((c) => INSEE.test(c) && ctx.table && !ctx.table.byCode.has(c));
    const good = codes.filter((c) => INSEE.test(c) && !unknown.includes(c));
    paste.value = bad.length || unknown.length ? [...bad, ...unknown].join(' ') : '';
    add(good.map((c) => [c, ctx.table?.byCode.get(c)?.nom ?? c]), [
      `${plural(good.length, 'code')} ${good.length > 1 ? 'ajoutés' : 'ajouté'}.`,
      bad.length ? ` Pas des codes INSEE (5 caractères) : ${bad.join(', ')}.` : '',
      unknown.length ? ` Pas des communes des données : ${unknown.join(', ')}.` : '',
      ` ${plural(members.size + new Set(good.filter((c) => !members.has(c))).size, 'commune')} dans la liste.`,
    ].join(''));
  }
  function renderList(note) {
    fill(chips, [...members].map(([code, nom]) => h('li', null,
      h('span', { class: 'chip member' }, nom, ' ', h('span', { class: 'muted' }, code), ' ',
        h('button', { type: 'button', class: 'linkish', 'aria-label': `Retirer ${nom}`, onclick: () => { members.delete(code); renderList(`${nom} retirée ; ${plural(members.size, 'commune')} dans la liste.`); } }, '×')))));
    listNote.textContent = note ?? (members.size ? `${plural(members.size, 'commune')} dans la liste.` : 'Aucune commune pour l’instant.');
  }

  /* ------------------------------------------------------------ drawing */
  function start() {
    vertices = [];
    closed = false;
    drawing = true;
    map.doubleClickZoom.disable();
    map.getCanvas().style.cursor = 'crosshair';
    drawShape();
    renderDraw();
  }
  function stopDrawing() {
    if (!drawing) return;
    drawing = false;
    map.doubleClickZoom.enable();
    map.getCanvas().style.cursor = '';
  }
  function undo() {
    vertices.pop();
    closed = false;
    if (!drawing && vertices.length) { drawing = true; map.doubleClickZoom.disable(); }
    drawShape();
    renderDraw();
  }
  function finish() {
    // A double-click places the same corner twice (its two clicks): keep one.
    vertices = vertices.filter((v, i) => i === 0 || Math.hypot(v[0] - vertices[i - 1][0], v[1] - vertices[i - 1][1]) > 1e-5);
    if (vertices.length < 3) {
      drawNote.textContent = `Il faut au moins trois sommets (${vertices.length} placé${vertices.length > 1 ? 's' : ''}).`;
      return;
    }
    closed = true;
    stopDrawing();
    drawShape();
    renderDraw();
  }
  function cancelDraw() {
    stopDrawing();
    vertices = [];
    closed = false;
    drawShape();
    renderDraw();
  }
  /** The communes whose reference point is inside (a preview; the service decides). */
  function preview() {
    if (!closed || !ctx.table) return null;
    const ring = [...vertices, vertices[0]];
    return ctx.table.rows.filter((r) => r.ref_lon != null && inside([r.ref_lon, r.ref_lat], ring));
  }
  function renderDraw() {
    startBtn.disabled = drawing;
    undoBtn.disabled = !vertices.length;
    finishBtn.disabled = !drawing;
    cancelBtn.disabled = !drawing && !vertices.length;
    if (drawing) {
      drawNote.textContent = `Dessin en cours : ${plural(vertices.length, 'sommet')}. ${vertices.length >= 3 ? 'Double-cliquez ou « Terminer » pour fermer le polygone.' : `${CLICK} la carte pour placer les sommets.`}`;
    } else if (closed) {
      const p = preview();
      drawNote.textContent = `Polygone fermé (${plural(vertices.length, 'sommet')})${p ? ` : environ ${plural(p.length, 'commune')}, ${habitants(p.reduce((a, r) => a + (r.population ?? 0), 0))}` : ''}. Donnez-lui un nom et enregistrez-le.`;
    } else {
      drawNote.textContent = '';
    }
  }

  function renderMode() {
    listBox.hidden = mode !== 'list';
    drawBox.hidden = mode !== 'draw';
    if (mode !== 'draw') stopDrawing();
    if (mode === 'draw') drawShape(); else setSource('perimeter-draw', EMPTY);
    renderDraw();
  }

  /* ------------------------------------------------------------ saving */
  async function save() {
    const name = nameInput.value.trim();
    if (!name) {
      fill(status, h('p', { class: 'error', role: 'alert' }, 'Donnez un nom au périmètre.'));
      nameInput.focus();
      return;
    }
    let shape;
    if (mode === 'list') {
      if (!members.size) { fill(status, h('p', { class: 'error', role: 'alert' }, 'Ajoutez au moins une commune à la liste.')); search.input.focus(); return; }
      shape = { communes: [...members.keys()] };
    } else {
      if (!closed) { fill(status, h('p', { class: 'error', role: 'alert' }, 'Dessinez d’abord le polygone et fermez-le (« Terminer »).')); return; }
      shape = { geometry: { type: 'Polygon', coordinates: [[...vertices, vertices[0]]] } };
    }
    if (!await ensureToken()) { fill(status, 'Enregistrement annulé : il faut un jeton d’accès pour enregistrer.'); return; }
    saveBtn.disabled = true;
    fill(status, 'Enregistrement…');
    try {
      const p = await call('/perimeters', { method: 'POST', body: { name, public: publicInput.checked, ...shape } });
      fill(status, `Périmètre « ${p.name} » enregistré : ${plural(p.communes_count, 'commune')}.`);
      members.clear();
      renderList();
      cancelDraw();
      nameInput.value = '';
      form.open = false;
      list.refresh();
      ctx.go('territoire', ['perimeter', p.id]);
    } catch (e) {
      fill(status, savedError(e, 'l’enregistrement du périmètre'));
    } finally {
      saveBtn.disabled = false;
    }
  }

  /* ------------------------------------------------------------ the perimeter shown */
  let outlineController = null;
  async function outline(id) {
    outlined = id;
    outlineController?.abort();
    setSource('perimeter-outline', EMPTY);
    delete el.dataset.outline;
    if (!id) return;
    outlineController = new AbortController();
    try {
      const f = await call(`/collections/perimeters/items/${encodeURIComponent(id)}`, { signal: outlineController.signal });
      if (outlined === id && ctx.view === 'territoire') {
        setSource('perimeter-outline', { type: 'FeatureCollection', features: [f] });
        el.dataset.outline = id; // drawn (the browser test reads it)
      }
    } catch {
      // A private perimeter opened without its token: no outline, its communes still show.
    }
  }

  renderList();
  renderMode();
  return {
    el,
    /** Outlines a saved perimeter (null: none). */
    outline,
    show() { if (outlined) outline(outlined); if (mode === 'draw') drawShape(); },
    hide() {
      stopDrawing();
      renderDraw();
      setSource('perimeter-outline', EMPTY);
      delete el.dataset.outline;
      setSource('perimeter-draw', EMPTY);
    },
    refresh: () => list.refresh(),
  };
}
