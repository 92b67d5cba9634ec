// View 4 — Scénario: add a hypothetical structure (click on the map, or a commune's
// chef-lieu) or remove an existing one (click its symbol, or search it by name) →
// deltas at once: population newly within the threshold, communes whose nearest
// changed, per territory, accessibility when the service gives it; reset. Siting
// suggestions for a territory (its own, or the one shown in Territoire) can be added to
// the scenario. Its overlays: the scenario sites, the communes whose nearest changed, a
// hint; and the headline numbers over the map (#map-summary).

import { api, qs, isAbort } from '../api.js';
import { h, fill, errorBox, loading, dataTable, searchBox, select, countSelect, newId, slug } from '../ui.js';
import { int, kmFromM, minutes, signedInt, habitants, num, fold, pct, plural, value as fmtValue, signedValue } from '../format.js';
import { TYPE_LABELS } from '../labels.js';
import { facilityMinzoom } from '../map.js';

export function createScenario(ctx, root) {
  const { mapCtl, meta, store, layers } = ctx;
  const overlays = mapCtl.overlays('scenario');
  const maxChanges = meta.limits.scenarioChanges;
  const kinds = meta.kindsFor('scenario');
  let kind = kinds.find((k) => k.id === 'msp')?.id ?? kinds[0]?.id;
  let threshold = 'km:10';
  let mode = 'add';
  let changes = [];
  let result = null;
  let controller = null;
  let seq = 0;

  const kindSel = select({
    label: 'Type de structure',
    options: kinds.map((k) => ({ value: k.id, label: k.title })),
    value: kind,
    onChange: (v) => {
      kind = v;
      const before = changes.length;
      changes = changes.filter((c) => c.op === 'add' || c.kind === kind);
      if (changes.length !== before) announce('Les retraits d’un autre type de structure ont été enlevés du scénario.');
      layers.show(kind);
      hint();
      update();
    },
  });
  const thrSel = select({
    label: 'Seuil de proximité',
    options: [
      ...[5, 10, 15, 20, 30].map((v) => ({ value: `km:${v}`, label: `${v} km`, group: "À vol d'oiseau" })),
      ...[10, 15, 20, 30].map((v) => ({ value: `min:${v}`, label: `${v} minutes`, group: 'En voiture (estimé)' })),
    ],
    value: threshold,
    onChange: (v) => { threshold = v; update(); },
  });

  const modeName = newId('mode');
  const modeBox = h('fieldset', { class: 'modes' },
    h('legend', null, 'Un clic sur la carte…'),
    [['add', 'ajoute une structure hypothétique à cet endroit'], ['remove', 'retire la structure existante cliquée (symbole)']].map(([v, label]) => {
      const id = `${modeName}-${v}`;
      const r = h('input', { type: 'radio', name: modeName, id, value: v, checked: v === mode || null, onchange: () => { mode = v; hint(); } });
      return h('div', { class: 'check' }, r, h('label', { for: id }, label));
    }));

  const addSearch = searchBox({
    label: 'Ou ajouter au chef-lieu d’une commune',
    placeholder: 'nom de la commune',
    source: async (q, signal) => {
      const r = await api(`/search${qs({ q, type: 'commune', limit: 8 })}`, { signal });
      return r.results.map((x) => ({ label: x.nom, detail: `${x.departement} · ${habitants(x.population)}`, value: x }));
    },
    onPick: async (x) => {
      const t = ctx.table ?? await ctx.tableReady;
      const r = t.byCode.get(x.code);
      if (!r) return;
      add(r.ref_lon, r.ref_lat, r.nom);
      addSearch.set('');
    },
  });
  const removeSearch = searchBox({
    label: 'Ou retirer une structure existante',
    placeholder: 'nom de la structure ou de sa commune',
    minLength: 2,
    delay: 100,
    source: async (q) => {
      const fc = await ctx.facilities(kind);
      const f = fold(q);
      const out = [];
      for (const ft of fc.features) {
        const p = ft.properties;
        const cname = ctx.communeName(p.commune);
        if (fold(p.nom).includes(f) || fold(cname).includes(f)) {
          out.push({ label: p.nom, detail: `${cname} (${p.departement ?? ''})`, value: ft });
          if (out.length >= 10) break;
        }
      }
      return out;
    },
    onPick: (ft) => { remove(ft); removeSearch.set(''); },
  });

  const changesBox = h('div', { class: 'changes' });
  const resultBox = h('div', { class: 'result', id: 'scenario-result' });
  const liveNote = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const resetBtn = h('button', { type: 'button', class: 'secondary', id: 'scenario-reset', onclick: reset, disabled: true }, 'Réinitialiser le scénario');

  fill(root,
    h('h2', null, 'Scénario'),
    h('p', { class: 'intro' }, 'Simulez l’ouverture ou la fermeture d’une structure : les effets s’affichent aussitôt. ',
      h('strong', null, 'Rien n’est enregistré'), ' ; les calculs portent sur les distances au chef-lieu de chaque commune.'),
    h('div', { class: 'row' }, kindSel.el, thrSel.el),
    modeBox,
    addSearch.el,
    removeSearch.el,
    h('h3', null, 'Changements du scénario'),
    changesBox,
    resetBtn,
    liveNote,
    resultBox,
    sitingSection());

  function announce(text) { liveNote.textContent = text; }
  function k() { return meta.kind(kind); }
  function hint(text) {
    if (ctx.view !== 'scenario') return;
    overlays.set({
      hint: text ?? (mode === 'add'
        ? `Cliquez sur la carte pour placer ${k().a} hypothétique.`
        : `Cliquez sur le symbole de la structure à retirer (${k().plural}${facilityMinzoom(k()) ? ', visibles en zoomant' : ''}).`),
    });
  }

  function add(lon, lat, where) {
    if (changes.length >= maxChanges) {
      const text = `Au plus ${plural(maxChanges, 'changement')} par scénario (limite du service).`;
      announce(text);
      hint(text);
      return;
    }
    seq++;
    const name = `${k().short} hypothétique n° ${seq}${where ? ` (${where})` : ''}`;
    changes.push({ op: 'add', lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)), name, key: `a${seq}` });
    update();
  }

  function remove(ft) {
    const p = ft.properties;
    if (p.kind !== kind) { announce(`Cette structure n’est pas du type choisi (${k().title}).`); return; }
    if (changes.some((c) => c.op === 'remove' && c.id === p.id)) { announce('Cette structure est déjà retirée.'); return; }
    const [lon, lat] = ft.geometry.coordinates;
    changes.push({ op: 'remove', id: p.id, kind: p.kind, name: p.nom, lon, lat, key: `r${p.id}` });
    update();
  }

  function reset() {
    changes = [];
    seq = 0;
    result = null;
    update();
    announce('Scénario réinitialisé.');
  }

  function renderChanges() {
    resetBtn.disabled = !changes.length;
    if (!changes.length) {
      fill(changesBox, h('p', { class: 'muted' }, 'Aucun changement pour l’instant.'));
      return;
    }
    fill(changesBox, h('ol', { class: 'change-list' }, changes.map((c) => h('li', null,
      h('span', null, c.op === 'add' ? `Ajout : ${c.name}` : `Retrait : ${c.name}`,
        h('span', { class: 'muted' }, ` (${num(c.lat, 4)}° N, ${num(Math.abs(c.lon), 4)}° ${c.lon >= 0 ? 'E' : 'O'})`)),
      ' ',
      h('button', { type: 'button', class: 'linkish', onclick: () => { changes = changes.filter((x) => x !== c); update(); } }, 'Annuler ce changement')))));
  }

  function draw() {
    if (ctx.view !== 'scenario') return;
    overlays.set({
      sites: changes.map((c) => ({ type: 'Feature', properties: { op: c.op, nom: c.name }, geometry: { type: 'Point', coordinates: [c.lon, c.lat] } })),
      marks: (result?.nearest_changed ?? []).map((n) => [n.code, n.within_after && !n.within_before ? 'gained' : !n.within_after && n.within_before ? 'lost' : 'changed']),
    });
  }

  async function update() {
    renderChanges();
    controller?.abort();
    if (!changes.length) {
      result = null;
      fill(resultBox, h('p', { class: 'muted' }, 'Ajoutez ou retirez une structure pour voir ses effets.'));
      resultBox.dataset.state = 'empty';
      draw();
      mapSummary();
      return;
    }
    draw();
    controller = new AbortController();
    const signal = controller.signal;
    const [unit, val] = threshold.split(':');
    const body = {
      kind,
      [unit === 'km' ? 'within_km' : 'within_min']: Number(val),
      changes: changes.map((c) => (c.op === 'add' ? { op: 'add', lon: c.lon, lat: c.lat, name: c.name } : { op: 'remove', id: c.id })),
    };
    resultBox.setAttribute('aria-busy', 'true');
    resultBox.dataset.state = 'loading';
    resultBox.prepend(loading('Calcul des effets…'));
    try {
      result = await api('/scenarios', { method: 'POST', body, signal });
      renderResult(result, unit, Number(val));
      resultBox.dataset.state = 'done';
      draw();
    } catch (e) {
      if (isAbort(e)) return;
      resultBox.dataset.state = 'error';
      fill(resultBox, errorBox(e));
    } finally {
      if (!signal.aborted) resultBox.removeAttribute('aria-busy');
    }
  }

  function renderResult(r, unit, val) {
    const thr = `${num(val, 1)} ${unit === 'km' ? 'km' : 'min'}`;
    const words = k();
    const changed = r.nearest_changed ?? [];
    const gained = changed.filter((n) => n.within_after && !n.within_before).length;
    const lost = changed.filter((n) => !n.within_after && n.within_before).length;
    const nearestTable = dataTable({
      id: 'scenario-changed',
      caption: `Communes dont ${words.nearest} change`,
      columns: [
        { key: 'nom', label: 'Commune' },
        { key: 'population', label: 'Habitants', num: true, format: (n) => int(n.population) },
        { key: 'before', label: 'Avant', value: (n) => n.before?.trip?.distance_m ?? null, format: (n) => trip(n.before), csv: (n) => tripText(n.before) },
        { key: 'after', label: 'Après', value: (n) => n.after?.trip?.distance_m ?? null, format: (n) => trip(n.after), csv: (n) => tripText(n.after) },
        { key: 'gain', label: 'Gain de distance', num: true, value: (n) => (n.before?.trip?.distance_m ?? NaN) - (n.after?.trip?.distance_m ?? NaN), format: (n) => kmDelta(n), csv: (n) => ((n.before?.trip?.distance_m ?? 0) - (n.after?.trip?.distance_m ?? 0)) / 1000, csvLabel: 'Gain de distance (km)' },
        { key: 'within', label: `À moins de ${thr}`, value: (n) => (n.within_after ? 1 : 0) - (n.within_before ? 1 : 0), format: (n) => withinText(n) },
      ],
      rows: changed,
      sort: { key: 'population', dir: 'desc' },
      limit: 50,
      empty: 'Aucune commune ne change de structure la plus proche.',
      csvName: `scenario-${kind}-communes.csv`,
    });
    const terr = (r.territories ?? []).filter((t) => t.population_newly_within || t.population_no_longer_within || t.communes_nearest_changed);
    const terrTable = dataTable({
      id: 'scenario-territories',
      caption: 'Par territoire',
      columns: [
        { key: 'name', label: 'Territoire' },
        { key: 'territory_type', label: 'Type', format: (t) => TYPE_LABELS[t.territory_type] ?? t.territory_type },
        { key: 'population_newly_within', label: `Habitants gagnant ${thr}`, num: true, format: (t) => signedInt(t.population_newly_within) },
        { key: 'population_no_longer_within', label: `Habitants perdant ${thr}`, num: true, format: (t) => (t.population_no_longer_within ? signedInt(-t.population_no_longer_within) : '0') },
        { key: 'communes_nearest_changed', label: 'Communes concernées', num: true, format: (t) => int(t.communes_nearest_changed) },
      ],
      rows: terr,
      sort: { key: 'population_newly_within', dir: 'desc' },
      limit: 30,
      csvName: `scenario-${kind}-territoires.csv`,
    });
    fill(resultBox,
      h('h3', null, 'Effets du scénario'),
      h('div', { class: 'cards' },
        card('scenario-gain', signedInt(r.population_newly_within), `habitants nouvellement à moins de ${thr} d’${words.a}`, 'good'),
        card('scenario-loss', r.population_no_longer_within ? signedInt(-r.population_no_longer_within) : '0', `habitants qui ne sont plus à moins de ${thr}`, r.population_no_longer_within ? 'bad' : null),
        card('scenario-changed-count', int(changed.length), `communes changent de structure la plus proche${gained || lost ? ` (${gained} passent sous le seuil, ${lost} au-dessus)` : ''}`)),
      k().partial ? h('p', { class: 'caveat' }, `Liste des ${words.plural} partielle : les gains peuvent être surestimés là où une structure existante manque à la liste.`) : null,
      accessibilityBlock(r.accessibility),
      h('p', { class: 'hint' }, 'Sur la carte : contour rose pour les communes qui passent sous le seuil, rouge-orangé pour celles qui le dépassent, violet pour les autres communes dont la structure la plus proche change.'),
      h('details', { class: 'table-details', open: window.innerWidth > 760 || null },
        h('summary', null, `Communes dont ${words.nearest} change (${int(changed.length)})`), nearestTable.el),
      terr.length ? h('details', { class: 'table-details', open: window.innerWidth > 760 || null },
        h('summary', null, `Par territoire (${int(terr.length)})`), terrTable.el) : null,
      h('p', { class: 'note' }, `${int(r.communes_examined ?? 0)} communes examinées ; modèle de distance : ${r.model ?? '—'}.`));
    announce(`Scénario calculé : ${signedInt(r.population_newly_within)} habitants nouvellement à moins de ${thr}.`);
    mapSummary();
  }

  /** The headline numbers over the map too (the panel may be scrolled away). */
  function mapSummary() {
    const el = document.getElementById('map-summary');
    if (!el) return;
    if (ctx.view !== 'scenario' || !result || !changes.length) { el.hidden = true; return; }
    const [unit, val] = threshold.split(':');
    const thr = `${num(Number(val), 1)} ${unit === 'km' ? 'km' : 'min'}`;
    el.hidden = false;
    fill(el,
      h('strong', null, `${signedInt(result.population_newly_within)} hab.`), ` nouvellement à moins de ${thr} d’${k().a}`,
      result.population_no_longer_within ? [h('br'), h('strong', null, `${signedInt(-result.population_no_longer_within)} hab.`), ' au-delà'] : null,
      h('br'), `${int((result.nearest_changed ?? []).length)} communes changent de structure la plus proche`);
  }

  function card(id, big, text, tone) {
    return h('div', { class: `card${tone ? ` ${tone}` : ''}`, id }, h('p', { class: 'big' }, big), h('p', null, text));
  }
  function trip(x) {
    if (!x) return '—';
    return h('span', null, x.name ?? x.id ?? '—', h('br'), h('span', { class: 'muted' }, `${kmFromM(x.trip?.distance_m)} · ${minutes(x.trip?.car_min)}`));
  }
  function tripText(x) {
    return x ? `${x.name ?? x.id} (${kmFromM(x.trip?.distance_m)}, ${minutes(x.trip?.car_min)})` : '';
  }
  function kmDelta(n) {
    const d = (n.before?.trip?.distance_m ?? NaN) - (n.after?.trip?.distance_m ?? NaN);
    if (!Number.isFinite(d)) return '—';
    return `${d >= 0 ? '−' : '+'}${kmFromM(Math.abs(d))}`;
  }
  function withinText(n) {
    if (n.within_after && !n.within_before) return 'oui, désormais';
    if (!n.within_after && n.within_before) return 'non, plus maintenant';
    return n.within_after ? 'oui (déjà)' : 'non (toujours)';
  }

  /**
   * The accessibility deltas the service will add (`accessibility` member): shown
   * generically when present — scalars as a list, arrays of rows as tables, nested
   * objects (e.g. one per profile) as sub-sections.
   */
  function accessibilityBlock(acc, depth = 0) {
    if (acc == null || typeof acc !== 'object') return null;
    const fmt = (key, v) => (typeof v === 'number' ? (/delta|change|diff/.test(key) ? signedValue(v) : fmtValue(v)) : String(v ?? '—'));
    const label = (key) => key.replace(/_/g, ' ');
    const entries = Object.entries(acc);
    const scalars = entries.filter(([, v]) => v == null || typeof v !== 'object');
    const arrays = entries.filter(([, v]) => Array.isArray(v) && v.length && typeof v[0] === 'object');
    const nested = entries.filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v));
    const Hn = depth ? 'h5' : 'h4';
    return h('section', { class: 'acc-delta', id: depth ? null : 'scenario-accessibility' },
      depth ? null : h(Hn, null, 'Accessibilité potentielle'),
      scalars.length ? h('dl', { class: 'facts' }, scalars.map(([key, v]) => [h('dt', null, label(key)), h('dd', null, fmt(key, v))])) : null,
      arrays.map(([key, rows]) => {
        const keys = Object.keys(rows[0]).filter((x) => rows[0][x] == null || typeof rows[0][x] !== 'object');
        return dataTable({
          caption: label(key),
          columns: keys.map((x) => ({ key: x, label: label(x), num: typeof rows[0][x] === 'number', format: (row) => fmt(x, row[x]) })),
          rows, limit: 30,
          csvName: `scenario-accessibilite-${slug(key)}.csv`,
        }).el;
      }),
      depth < 2 ? nested.map(([key, v]) => [h('h5', null, label(key)), accessibilityBlock(v, depth + 1)]) : null);
  }

  /* ---------------------------------------------------------- siting */

  function sitingSection() {
    let territory = null;
    const out = h('div', { 'aria-live': 'polite' });
    const kSel = countSelect({ label: 'Nombre de sites', counts: [1, 2, 3, 5], max: meta.limits.sitingK, preferred: 3 });
    const terrLabel = h('p', { class: 'hint' });
    const tSearch = searchBox({
      label: 'Territoire étudié',
      placeholder: 'ex. Thouarsais',
      source: async (q, signal) => {
        const r = await api(`/search${qs({ q, type: 'cls,epci,departement', limit: 8 })}`, { signal });
        return r.results.map((x) => ({ label: x.nom, detail: TYPE_LABELS[x.type], value: x }));
      },
      onPick: (x) => { territory = { type: x.type, code: x.code, nom: x.nom }; },
    });
    const run = async () => {
      const t = territory ?? store.get('territory');
      if (!t) { fill(out, errorBox('Choisissez d’abord un territoire (ici ou dans la vue Territoire).')); return; }
      const [unit, val] = threshold.split(':');
      const prefix = { cls: 'cls', epci: 'epci', departement: 'dep', region: 'reg' }[t.type] ?? t.type;
      out.setAttribute('aria-busy', 'true');
      fill(out, loading('Recherche des meilleurs emplacements…'));
      try {
        const s = await api(`/siting${qs({ territory: `${prefix}:${t.code}`, kind, k: kSel.select.value, [unit === 'km' ? 'within_km' : 'within_min']: val })}`);
        fill(out,
          h('p', null, `${s.territory_name} : ${pct(s.share_within_before)} de la population à moins de ${num(Number(val), 1)} ${unit === 'km' ? 'km' : 'min'} aujourd’hui.`),
          h('ol', { class: 'picks' }, s.picks.map((p) => h('li', null,
            h('strong', null, p.nom), ` : +${int(p.marginal_population)} habitants couverts (${pct(p.share_within_after)} après) `,
            h('button', { type: 'button', class: 'small secondary', onclick: () => add(p.lon, p.lat, p.nom) }, 'Ajouter au scénario')))),
          h('p', { class: 'note' }, 'Choix glouton parmi les chefs-lieux des communes du territoire, à partir des structures existantes (sans tenir compte des changements du scénario).'));
      } catch (e) {
        fill(out, errorBox(e));
      } finally {
        out.removeAttribute('aria-busy');
      }
    };
    const details = h('details', { class: 'siting' },
      h('summary', null, 'Suggestions d’implantation'),
      h('p', { class: 'hint' }, 'Où placer de nouvelles structures pour couvrir le plus d’habitants au seuil choisi ? Sans territoire choisi ici, celui de la vue Territoire est utilisé.'),
      tSearch.el, terrLabel, kSel.el,
      h('button', { type: 'button', onclick: run }, 'Proposer des emplacements'),
      out);
    const showShared = () => {
      const t = store.get('territory');
      terrLabel.textContent = t && !territory ? `Territoire de la vue Territoire : ${t.nom}.` : '';
    };
    store.subscribe('territory', showShared);
    details.addEventListener('toggle', showShared);
    return details;
  }

  mapCtl.onClick(({ lngLat, facility, commune }) => {
    if (ctx.view !== 'scenario') return false;
    if (mode === 'remove') {
      if (facility && !facility.properties.op) { remove(facility); return true; }
      announce('Aucune structure existante à cet endroit : cliquez sur un symbole.');
      hint('Aucune structure ici : cliquez sur un symbole de structure du type choisi.');
      return true;
    }
    add(lngLat.lng, lngLat.lat, commune?.properties?.nom);
    return true;
  });

  update();

  return {
    show() {
      // The chosen kind's structures must be visible to be removed by a click.
      layers.show(kind);
      draw();
      hint();
      mapSummary();
    },
    hide() {
      overlays.clear();
      document.getElementById('map-summary').hidden = true;
    },
  };
}
