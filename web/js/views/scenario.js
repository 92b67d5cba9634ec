// View 4 — Scénario: add a hypothetical structure (click on the map, or a commune's
// chef-lieu) or remove an existing one (click its symbol, or search it by name) →
// deltas at once. The territory looked at (picked here, or the one shown in Territoire:
// store key `territory`) is sent with the scenario and its `inside` deltas are the
// headline; then every commune reached, the communes the list does not cover (not
// counted), per territory, and the accessibility deltas (with the reason of a missing
// value). Siting suggestions for the territory looked at can be added to the scenario.
// Its overlays: the scenario sites, the communes whose nearest changed, a hint; and the
// headline numbers over the map (#map-summary). With a planner's list chosen (« Mes
// listes », store key `facilitiesChoice`) for the kind, the scenario runs with it (its
// structures can be removed like official ones) and says so; a saved scenario reopened
// runs with its own list, whatever the viewer has chosen.

import { api, qs, isAbort } from '../api.js';
import { h, fill, errorBox, loading, dataTable, searchBox, select, countSelect, newId, slug, CLICK } from '../ui.js';
import { int, kmFromM, minutes, signedInt, habitants, num, fold, pct, plural, value as fmtValue, signedValue, displayName } from '../format.js';
import { TYPE_LABELS, missingText, missingReasons } from '../labels.js';
import { facilityMinzoom } from '../map.js';
import { savedControls, sharedScenarioId, loadSaved } from '../saved.js';
import { OFFICIAL, choiceOf, usesList, listParams, usedWords, listSite, withToken, listRefusal } from '../layers.js';

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
  // The territory looked at: picked here, else the one of the Territoire view (unless
  // the user asked for none).
  let ownTerritory = null;
  let noTerritory = false;
  // The structures used: those of a reopened saved scenario, else the choice of « Mes listes ».
  let sharedChoice = null;
  const choice = () => sharedChoice ?? choiceOf(store);
  const listUsed = () => usesList(choice(), kind);
  /** A saved scenario's result, shown when this browser may not recompute it (its list is private). */
  let openedResult = null;
  const lookedAt = () => ownTerritory ?? (noTerritory ? null : store.get('territory') ?? null);
  const territoryParam = (t) => `${{ cls: 'cls', epci: 'epci', departement: 'dep', region: 'reg' }[t.type] ?? t.type}:${t.code}`;
  /** The accessibility profile of the kind when it counts places: added sites need a capacity. */
  const capacityProfile = () => meta.profiles.find((p) => p.supply?.kind === kind && p.supply?.per_site === 'capacity') ?? null;

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
      capacityBox.hidden = !capacityProfile();
      renderStructures();
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
      // The structures the scenario uses: the list's first, then the official ones.
      const c = choice();
      const listed = listUsed() ? await ctx.lists.structures(c.list).catch(() => []) : [];
      const official = listUsed() && c.used === 'list' ? [] : (await ctx.facilities(kind)).features;
      const f = fold(q);
      const out = [];
      for (const ft of [...listed.filter((x) => x.properties.kind === kind), ...official]) {
        const p = ft.properties;
        const cname = p.commune_nom ?? ctx.communeName(p.commune);
        if (fold(p.nom).includes(f) || fold(cname).includes(f)) {
          out.push({ label: displayName(p.nom), detail: p.liste ? `${cname} · liste « ${c.name} »` : `${cname} (${p.departement ?? ''})`, value: ft });
          if (out.length >= 10) break;
        }
      }
      return out;
    },
    onPick: (ft) => { remove(ft); removeSearch.set(''); },
  });

  const territoryLabel = h('p', { class: 'territory-looked', id: 'scenario-territory', 'aria-live': 'polite' });
  const territorySearch = searchBox({
    label: 'Territoire regardé',
    placeholder: 'ex. Thouarsais, Deux-Sèvres',
    hint: 'Ses chiffres viennent en tête des effets. Sans choix ici, celui de la vue Territoire.',
    source: async (q, signal) => {
      const r = await api(`/search${qs({ q, type: 'cls,epci,departement,region', limit: 8 })}`, { signal });
      return r.results.map((x) => ({ label: x.nom, detail: TYPE_LABELS[x.type] ?? x.type, value: x }));
    },
    onPick: (x) => { ownTerritory = { type: x.type, code: x.code, nom: x.nom }; noTerritory = false; territoryChanged(); },
  });
  function territoryChanged() {
    const t = lookedAt();
    const shared = !ownTerritory && t;
    fill(territoryLabel,
      t ? [h('strong', null, t.nom), ` (${TYPE_LABELS[t.type] ?? t.type}${shared ? ', choisi dans la vue Territoire' : ''}) `,
        h('button', { type: 'button', class: 'linkish', onclick: () => { ownTerritory = null; noTerritory = true; territorySearch.set(''); territoryChanged(); } }, 'ne regarder aucun territoire')]
        : ['Aucun territoire regardé : les effets portent sur toutes les communes touchées. ',
          !noTerritory || !store.get('territory') ? null
            : h('button', { type: 'button', class: 'linkish', onclick: () => { noTerritory = false; territoryChanged(); } }, `regarder ${store.get('territory').nom}`)]);
    if (changes.length) update();
  }
  store.subscribe('territory', () => { if (!ownTerritory) { noTerritory = false; territoryChanged(); } });

  const capacityId = newId('capacity');
  const capacityInput = h('input', { type: 'number', id: capacityId, min: '1', step: '1', inputmode: 'numeric', placeholder: 'ex. 80', 'aria-describedby': `${capacityId}-hint` });
  const capacityBox = h('div', { class: 'field capacity' },
    h('label', { for: capacityId }, 'Capacité des structures ajoutées (places)'),
    capacityInput,
    h('p', { class: 'hint', id: `${capacityId}-hint` }, 'L’accessibilité compte les places : sans capacité, sa variation n’est pas calculée (les distances, si).'));
  capacityBox.hidden = !capacityProfile();

  const structuresBox = h('div', { class: 'structures-used', id: 'scenario-structures', 'aria-live': 'polite' });
  const changesBox = h('div', { class: 'changes' });
  const resultBox = h('div', { class: 'result', id: 'scenario-result' });
  const liveNote = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const saved = savedControls({ request: () => (changes.length ? requestBody() : null), open: (id) => openShared(id) });
  const resetBtn = h('button', { type: 'button', class: 'secondary', id: 'scenario-reset', onclick: reset, disabled: true }, 'Réinitialiser le scénario');

  fill(root,
    h('h2', null, 'Scénario'),
    h('p', { class: 'intro' }, 'Simulez l’ouverture ou la fermeture d’une structure : les effets s’affichent aussitôt. ',
      h('strong', null, 'Rien n’est enregistré'), ' sans « Enregistrer » ; les calculs portent sur les distances au chef-lieu de chaque commune.'),
    h('div', { class: 'row' }, kindSel.el, thrSel.el),
    structuresBox,
    territorySearch.el,
    territoryLabel,
    modeBox,
    capacityBox,
    addSearch.el,
    removeSearch.el,
    h('h3', null, 'Changements du scénario'),
    changesBox,
    resetBtn,
    saved.el,
    liveNote,
    resultBox,
    sitingSection());

  function announce(text) { liveNote.textContent = text; }

  /** Which structures the scenario uses, in words, with the way back to the official ones. */
  function renderStructures() {
    const c = choice();
    if (!c.list) { fill(structuresBox); structuresBox.hidden = true; return; }
    structuresBox.hidden = false;
    if (!listUsed()) {
      fill(structuresBox, h('p', { class: 'note' }, h('strong', null, 'Structures : '),
        `les structures officielles — la liste « ${c.name} » ne contient pas de ${k().plural}.`));
      return;
    }
    fill(structuresBox, h('p', { class: 'note list-used-note' },
      h('span', { class: 'list-swatch', 'aria-hidden': 'true' }), ' ',
      h('strong', null, 'Structures : '), usedWords(c),
      c.legend || c.scope ? h('span', { class: 'unit-line' }, [c.legend, c.scope ? `complète pour ${c.scope}` : null].filter(Boolean).join(', ')) : null,
      sharedChoice && sharedChoice.list ? h('span', { class: 'unit-line' }, 'celle du scénario enregistré ouvert') : null,
      ' ',
      h('button', { type: 'button', class: 'linkish', id: 'scenario-official', onclick: backToOfficial }, 'Revenir aux structures officielles')));
  }

  function backToOfficial() {
    const had = sharedChoice;
    sharedChoice = null;
    store.set('facilitiesChoice', OFFICIAL);
    // The store said official already (a reopened scenario used its own list).
    if (had) choiceChanged();
  }

  /**
   * The structures used changed: removals of structures the scenario no longer uses go
   * (a list's structure without its list, an official one with the list alone).
   */
  function choiceChanged() {
    const c = choice();
    const kept = changes.filter((x) => {
      if (x.op !== 'remove') return true;
      const site = listSite(x.id);
      return site ? usesList(c, kind) && site.list === c.list : !(usesList(c, kind) && c.used === 'list');
    });
    if (kept.length !== changes.length) announce('Les retraits de structures que le scénario n’utilise plus ont été enlevés.');
    changes = kept;
    renderStructures();
    if (ctx.view === 'scenario') { showList(); hint(); }
    update();
  }
  store.subscribe('facilitiesChoice', () => { sharedChoice = null; choiceChanged(); });

  /** The list used is drawn, so that its structures can be clicked. */
  function showList() {
    const c = choice();
    if (listUsed() && !ctx.lists.isShown(c.list)) ctx.lists.show({ id: c.list, name: c.name, legend: c.legend }).catch(() => {});
  }
  function k() { return meta.kind(kind); }
  function hint(text) {
    if (ctx.view !== 'scenario') return;
    overlays.set({
      hint: text ?? (mode === 'add'
        ? `${CLICK} la carte pour placer ${k().a} hypothétique.`
        : listUsed()
          ? `${CLICK} la structure à retirer (${choice().used === 'list' ? `cercles violets de la liste « ${choice().name} »` : `${k().plural} ou cercles violets de la liste`}).`
          : `${CLICK} le symbole de la structure à retirer (${k().plural}${facilityMinzoom(k()) ? ', visibles en zoomant' : ''}).`),
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
    const cap = Number(capacityInput.value);
    const capacity = capacityProfile() && Number.isFinite(cap) && cap > 0 ? cap : null;
    changes.push({ op: 'add', lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)), name, capacity, key: `a${seq}` });
    update();
  }

  function remove(ft) {
    const p = ft.properties;
    if (p.kind !== kind) { announce(`Cette structure n’est pas du type choisi (${k().title}).`); return; }
    if (changes.some((c) => c.op === 'remove' && c.id === p.id)) { announce('Cette structure est déjà retirée.'); return; }
    const [lon, lat] = ft.geometry.coordinates;
    changes.push({ op: 'remove', id: p.id, kind: p.kind, name: displayName(p.nom), lon, lat, key: `r${p.id}` });
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
      h('span', null, c.op === 'add' ? `Ajout : ${c.name}${c.capacity ? `, ${int(c.capacity)} places` : ''}` : `Retrait : ${c.name}${listSite(c.id) && !/\bliste\b/.test(c.name) ? ' (liste)' : ''}`,
        Number.isFinite(c.lat) && Number.isFinite(c.lon) ? h('span', { class: 'muted' }, ` (${num(c.lat, 4)}° N, ${num(Math.abs(c.lon), 4)}° ${c.lon >= 0 ? 'E' : 'O'})`) : null),
      ' ',
      h('button', { type: 'button', class: 'linkish', onclick: () => { changes = changes.filter((x) => x !== c); update(); } }, 'Annuler ce changement')))));
  }

  function draw() {
    if (ctx.view !== 'scenario') return;
    overlays.set({
      sites: changes.filter((c) => Number.isFinite(c.lon) && Number.isFinite(c.lat))
        .map((c) => ({ type: 'Feature', properties: { op: c.op, nom: c.name }, geometry: { type: 'Point', coordinates: [c.lon, c.lat] } })),
      marks: (result?.nearest_changed ?? []).map((n) => [n.code, n.within_after && !n.within_before ? 'gained' : !n.within_after && n.within_before ? 'lost' : 'changed']),
    });
  }

  /** The body of POST /scenarios for the scenario shown. */
  function requestBody() {
    const [unit, val] = threshold.split(':');
    const t = lookedAt();
    return {
      kind,
      [unit === 'km' ? 'within_km' : 'within_min']: Number(val),
      changes: changes.map((c) => (c.op === 'add'
        ? { op: 'add', lon: c.lon, lat: c.lat, name: c.name, ...(c.capacity ? { capacity: c.capacity } : {}) }
        : { op: 'remove', id: c.id })),
      ...(t ? { territory: territoryParam(t) } : {}),
      ...listParams(choice(), kind),
    };
  }

  /** Opens a saved scenario (a shared link): its kind, threshold, territory and changes. */
  async function openShared(id) {
    try {
      const s = await loadSaved(id);
      const r = s.request;
      kind = r.kind;
      kindSel.select.value = kind;
      threshold = r.within_min != null ? `min:${r.within_min}` : `km:${r.within_km ?? 10}`;
      thrSel.select.value = threshold;
      if (r.territory) {
        const [p, ...code] = r.territory.split(':');
        const inside = s.saved.result?.inside;
        ownTerritory = { type: { dep: 'departement', reg: 'region' }[p] ?? p, code: code.join(':'), nom: inside?.name ?? r.territory };
        noTerritory = false;
      } else {
        // Saved without a territory: not the one of the Territoire view either.
        ownTerritory = null;
        noTerritory = true;
      }
      // Its structures: the list it was computed with (named by its answer), or the
      // official ones — never the list the viewer has chosen.
      const f = s.saved?.result?.facilities ?? s.current?.result?.facilities;
      sharedChoice = r.list && r.facilities && r.facilities !== 'official'
        ? { used: r.facilities, list: r.list, name: f?.list?.name ?? r.list, legend: f?.list?.legend, scope: f?.list?.scope }
        : OFFICIAL;
      const fc = await ctx.facilities(kind).catch(() => null);
      // A private list is not readable without its author's token: its removals keep their id.
      const listed = sharedChoice.list ? await ctx.lists.structures(sharedChoice.list).catch(() => []) : [];
      changes = r.changes.map((c, i) => {
        if (c.op !== 'remove') return { ...c, name: c.name ?? `Ajout n° ${i + 1}`, key: `s${i}` };
        const ft = (listSite(c.id) ? listed : fc?.features ?? []).find((x) => x.properties.id === c.id);
        const [lon, lat] = ft?.geometry.coordinates ?? [NaN, NaN];
        return { op: 'remove', id: c.id, kind, name: displayName(ft?.properties.nom) ?? removedName(s, c.id), lon, lat, key: `r${c.id}` };
      }).filter((c) => listSite(c.id) || (Number.isFinite(c.lon) && Number.isFinite(c.lat)));
      seq = changes.length;
      layers.show(kind);
      capacityBox.hidden = !capacityProfile();
      renderStructures();
      if (ctx.view === 'scenario') showList();
      const shown = s.current?.result ?? s.saved?.result;
      openedResult = shown ? { body: JSON.stringify(requestBody()), result: shown } : null;
      territoryChanged();
      await update();
      saved.opened(s, sharedChoice.list ? `Structures : ${usedWords(f ?? sharedChoice)}${f?.list?.legend ? ` (${f.list.legend})` : ''}.` : null);
      ctx.go('scenario');
      // A shared link shows its sites: the map goes to them.
      mapCtl.fitPoints(changes.filter((c) => Number.isFinite(c.lon) && Number.isFinite(c.lat)).map((c) => [c.lon, c.lat]), { maxZoom: 10 });
    } catch (e) {
      fill(resultBox, errorBox(`Le scénario partagé n’a pas pu être ouvert : ${e.message}`));
      ctx.go('scenario');
    }
  }

  /** The name of a removed structure as the saved answer gives it (a list may be unreadable here). */
  function removedName(s, id) {
    const res = s.saved?.result ?? s.current?.result;
    for (const n of res?.nearest_changed ?? []) if (n.before?.id === id && n.before?.name) return displayName(n.before.name);
    const site = listSite(id);
    return site ? `structure de la ligne ${site.line} de la liste « ${sharedChoice?.name ?? site.list} »` : id;
  }

  async function update() {
    renderChanges();
    saved.forget();
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
    const body = requestBody();
    resultBox.setAttribute('aria-busy', 'true');
    resultBox.dataset.state = 'loading';
    resultBox.prepend(loading('Calcul des effets…'));
    const withList = Boolean(body.list);
    try {
      result = withList ? await withToken('/scenarios', { method: 'POST', body, signal }) : await api('/scenarios', { method: 'POST', body, signal });
      renderResult(result, unit, Number(val));
      resultBox.dataset.state = 'done';
      draw();
    } catch (e) {
      if (isAbort(e)) return;
      const refusal = withList ? listRefusal(choice(), e) : undefined;
      // A reopened scenario whose list this browser may not read: its saved answer, said so.
      if (refusal && openedResult?.body === JSON.stringify(body)) {
        result = openedResult.result;
        renderResult(result, unit, Number(val));
        resultBox.prepend(h('p', { class: 'caveat', id: 'scenario-not-recomputed' }, h('strong', null, 'Résultat enregistré, non recalculé : '),
          `la liste « ${result.facilities?.list?.name ?? choice().name} » n’est pas lisible depuis ce navigateur (liste privée) ; voici les chiffres enregistrés.`));
        resultBox.dataset.state = 'done';
        draw();
        return;
      }
      resultBox.dataset.state = 'error';
      fill(resultBox, errorBox(e, refusal), refusal ? h('p', null, h('button', { type: 'button', class: 'secondary small', onclick: backToOfficial }, 'Revenir aux structures officielles')) : null);
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
        { key: 'gain', label: 'Gain de distance', num: true, value: (n) => (n.before?.trip?.distance_m ?? NaN) - (n.after?.trip?.distance_m ?? NaN), format: (n) => kmDelta(n), csv: (n) => { const d = (n.before?.trip?.distance_m ?? NaN) - (n.after?.trip?.distance_m ?? NaN); return Number.isFinite(d) ? d / 1000 : null; }, csvLabel: 'Gain de distance (km)' },
        { key: 'within', label: `À moins de ${thr}`, value: (n) => (n.within_after ? 1 : 0) - (n.within_before ? 1 : 0), format: (n) => withinText(n) },
      ],
      rows: changed,
      sort: { key: 'population', dir: 'desc' },
      limit: 50,
      empty: 'Aucune commune ne change de structure la plus proche.',
      csvName: `scenario-${kind}-communes.csv`,
    });
    const terr = (r.territories ?? []).filter((t) => t.population_newly_within || t.population_no_longer_within || t.communes_nearest_changed || t.population_out_of_scope);
    const terrTable = dataTable({
      id: 'scenario-territories',
      caption: 'Par territoire',
      columns: [
        { key: 'name', label: 'Territoire' },
        { key: 'territory_type', label: 'Type', format: (t) => TYPE_LABELS[t.territory_type] ?? t.territory_type },
        { key: 'population_newly_within', label: `Habitants gagnant ${thr}`, num: true, format: (t) => signedInt(t.population_newly_within) },
        { key: 'population_no_longer_within', label: `Habitants perdant ${thr}`, num: true, format: (t) => (t.population_no_longer_within ? signedInt(-t.population_no_longer_within) : '0') },
        { key: 'communes_nearest_changed', label: 'Communes concernées', num: true, format: (t) => int(t.communes_nearest_changed) },
        { key: 'population_out_of_scope', label: 'Non couverts (hab.)', num: true, format: (t) => (t.population_out_of_scope ? int(t.population_out_of_scope) : '0') },
      ],
      rows: terr,
      sort: { key: 'population_newly_within', dir: 'desc' },
      limit: 30,
      csvName: `scenario-${kind}-territoires.csv`,
    });
    const inside = r.inside ?? null;
    const outside = (r.out_of_scope ?? []).slice().sort((a, b) => (b.population ?? 0) - (a.population ?? 0));
    const f = r.facilities?.list ? r.facilities : null;
    fill(resultBox,
      f ? h('p', { class: 'note list-used-note', id: 'scenario-facilities' }, h('span', { class: 'list-swatch', 'aria-hidden': 'true' }), ' ',
        h('strong', null, 'Calculé avec '), usedWords(f),
        h('span', { class: 'unit-line' }, [f.list.legend, f.list.scope ? `complète pour ${f.list.scope}` : null].filter(Boolean).join(', '))) : null,
      inside ? insideBlock(inside, thr, words, f) : null,
      h('h3', null, inside ? 'Toutes les communes touchées' : 'Effets du scénario'),
      h('div', { class: `cards${inside ? ' secondary' : ''}` },
        card('scenario-gain', signedInt(r.population_newly_within), `habitants nouvellement à moins de ${thr} d’${words.a}`, r.population_newly_within ? 'good' : null),
        card('scenario-loss', r.population_no_longer_within ? signedInt(-r.population_no_longer_within) : '0', `habitants qui ne sont plus à moins de ${thr}`, r.population_no_longer_within ? 'bad' : null),
        card('scenario-changed-count', int(changed.length), `${changed.length >= 2 ? 'communes changent' : 'commune change'} de structure la plus proche${gained || lost ? ` (${gained} passent sous le seuil, ${lost} au-dessus)` : ''}`)),
      r.population_out_of_scope > 0 || outside.length
        ? h('div', { class: 'caveat strong', id: 'scenario-out-of-scope' },
          h('p', null, h('strong', null, 'Non couvert : '),
            `${habitants(r.population_out_of_scope ?? 0)} de ${plural(outside.length, 'commune')} ${outsideWords(f, words)} — non comptés.`),
          outside.length ? h('details', { class: 'compact' }, h('summary', null, 'Communes non comptées'),
            h('ul', null, outside.map((c) => h('li', null, `${c.nom} (${c.code}) : ${habitants(c.population)}`)))) : null)
        : null,
      k().partial && f?.used !== 'list' ? h('p', { class: 'caveat' }, `Liste des ${words.plural} partielle : les gains peuvent être surestimés là où une structure existante manque à la liste.`) : null,
      notesBlock(r),
      accessibilityBlock(r.accessibility),
      h('p', { class: 'hint' }, 'Sur la carte : contour rose pour les communes qui passent sous le seuil, rouge-orangé pour celles qui le dépassent, violet pour les autres communes dont la structure la plus proche change.'),
      h('details', { class: 'table-details', open: window.innerWidth > 760 || null },
        h('summary', null, `Communes dont ${words.nearest} change (${int(changed.length)})`), nearestTable.el),
      terr.length ? h('details', { class: 'table-details', open: window.innerWidth > 760 || null },
        h('summary', null, `Proximité par territoire (${int(terr.length)})`), terrTable.el) : null,
      h('p', { class: 'note' }, `${plural(r.communes_examined ?? 0, 'commune examinée', 'communes examinées')} ; modèle de distance : ${r.model ?? '—'}.`));
    announce(inside
      ? `Scénario calculé. ${inside.name} : ${signedInt(inside.population_newly_within)} habitants nouvellement à moins de ${thr}. Toutes communes : ${signedInt(r.population_newly_within)}.`
      : `Scénario calculé : ${signedInt(r.population_newly_within)} habitants nouvellement à moins de ${thr}.`);
    mapSummary();
  }

  /** Where the communes not counted are: outside the list's territory, or the official list's départements. */
  function outsideWords(f, words) {
    if (!f) return `dans des départements que la liste des ${words.plural} ne couvre pas`;
    const where = f.list.scope ? ` (${f.list.scope})` : '';
    return f.used === 'list'
      ? `hors du territoire de la liste « ${f.list.name} »${where}`
      : `hors du territoire de la liste « ${f.list.name} »${where} et des départements que la liste officielle des ${words.plural} couvre`;
  }

  /** The headline: what changes inside the territory looked at. */
  function insideBlock(t, thr, words, f) {
    const outside = t.population_out_of_scope > 0
      ? h('p', { class: 'caveat' }, h('strong', null, 'Non couvert : '), `${habitants(t.population_out_of_scope)} du territoire ${outsideWords(f, words)} — non comptés.`)
      : null;
    const nothingCounted = !t.population_newly_within && !t.population_no_longer_within && !t.communes_nearest_changed;
    return h('section', { class: 'inside', id: 'scenario-inside', 'aria-label': `Effets dans ${t.name}` },
      h('h3', null, `Dans ${t.name} `, h('span', { class: 'badge' }, TYPE_LABELS[t.territory_type] ?? t.territory_type)),
      nothingCounted ? outside : null,
      h('div', { class: 'cards' },
        card('scenario-inside-gain', signedInt(t.population_newly_within), `habitants du territoire nouvellement à moins de ${thr} d’${words.a}`, t.population_newly_within ? 'good' : null),
        card('scenario-inside-loss', t.population_no_longer_within ? signedInt(-t.population_no_longer_within) : '0', `habitants du territoire qui ne sont plus à moins de ${thr}`, t.population_no_longer_within ? 'bad' : null),
        card('scenario-inside-changed', int(t.communes_nearest_changed), `${t.communes_nearest_changed >= 2 ? 'communes du territoire changent' : 'commune du territoire change'} de structure la plus proche`)),
      nothingCounted ? null : outside);
  }

  /** Remarks of the service (e.g. why the accessibility delta is not computed). */
  function notesBlock(r) {
    const notes = [...(r.notes ?? []), ...(r.accessibility?.notes ?? [])].filter(Boolean);
    if (!notes.length) return null;
    const needsCapacity = capacityProfile() && changes.some((c) => c.op === 'add' && !c.capacity);
    return h('div', { class: 'note scenario-notes', id: 'scenario-notes' },
      needsCapacity ? h('p', null, `Variation d’accessibilité non calculée : le profil « ${capacityProfile().name} » compte les places ; indiquez la capacité des structures ajoutées (champ « Capacité » ci-dessus).`) : null,
      // With a list, what it leaves out is said at once.
      h('details', { class: 'compact', open: r.facilities?.list ? true : null }, h('summary', null, 'Remarques du service'), h('ul', null, notes.map((n) => h('li', null, String(n))))));
  }

  /** The headline numbers over the map too (the panel may be scrolled away). */
  function mapSummary() {
    const el = document.getElementById('map-summary');
    if (!el) return;
    if (ctx.view !== 'scenario' || !result || !changes.length) { el.hidden = true; return; }
    const [unit, val] = threshold.split(':');
    const thr = `${num(Number(val), 1)} ${unit === 'km' ? 'km' : 'min'}`;
    const t = result.inside;
    const src = t ?? result;
    el.hidden = false;
    fill(el,
      t ? [h('span', { class: 'ms-where' }, t.name), h('br')] : null,
      h('strong', null, `${signedInt(src.population_newly_within)} hab.`), ` nouvellement à moins de ${thr} d’${k().a}`,
      src.population_no_longer_within ? [h('br'), h('strong', null, `${signedInt(-src.population_no_longer_within)} hab.`), ' au-delà'] : null,
      h('br'), (() => { const n = t ? t.communes_nearest_changed : (result.nearest_changed ?? []).length; return `${int(n)} ${n >= 2 ? 'communes changent' : 'commune change'} de structure la plus proche`; })(),
      result.population_out_of_scope > 0 ? [h('br'), h('span', { class: 'ms-out' }, `non couvert : ${int(result.population_out_of_scope)} hab. non comptés`)] : null);
  }

  function card(id, big, text, tone) {
    return h('div', { class: `card${tone ? ` ${tone}` : ''}`, id }, h('p', { class: 'big' }, big), h('p', null, text));
  }
  function trip(x) {
    if (!x) return '—';
    return h('span', null, displayName(x.name) ?? x.id ?? '—', listSite(x.id) ? h('span', { class: 'muted' }, ' (liste)') : null,
      h('br'), h('span', { class: 'muted' }, `${kmFromM(x.trip?.distance_m)} · ${minutes(x.trip?.car_min)}`));
  }
  function tripText(x) {
    return x ? `${displayName(x.name) ?? x.id}${listSite(x.id) ? ' (liste)' : ''} (${kmFromM(x.trip?.distance_m)}, ${minutes(x.trip?.car_min)})` : '';
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
   * The accessibility deltas (`accessibility` member): per commune before/after/delta, a
   * missing value shown with its reason; the sites with their supply and ratio; the mean
   * per territory. Another shape is shown generically.
   */
  function accessibilityBlock(acc) {
    if (acc == null || typeof acc !== 'object') return null;
    if (!['communes', 'sites', 'territories'].some((key) => Array.isArray(acc[key]))) return genericAccessibility(acc);
    const unitLabel = acc.unit_label ?? meta.profile(acc.profile)?.unit ?? '';
    const valueCell = (v, miss) => (v != null ? fmtValue(v) : h('span', { class: 'muted', title: `pas de valeur : ${missingText(miss) ?? 'raison non donnée'}` }, '—'));
    // Why there is no delta, in one cell: the reasons before and after.
    const whyNoDelta = (c) => {
      const rb = missingReasons(c.missing_before);
      const ra = missingReasons(c.missing_after);
      let text;
      if (c.before == null && c.after == null && rb[0] && ra[0] && rb[0].code === ra[0].code && rb.length === 1 && ra.length === 1) {
        text = `${missingText(c.missing_after)}${rb[0].n != null && rb[0].n !== ra[0].n ? ` (avant : ${int(rb[0].n)})` : ''}`;
      } else {
        text = [c.before == null ? `avant : ${missingText(c.missing_before) ?? 'raison non donnée'}` : null,
          c.after == null ? `après : ${missingText(c.missing_after) ?? 'raison non donnée'}` : null].filter(Boolean).join(' ; ') || 'raison non donnée';
      }
      return h('span', { class: 'unit-line reason' }, `pas de valeur : ${text}`);
    };
    const communes = acc.communes ?? [];
    const communeTable = dataTable({
      id: 'scenario-acc-communes',
      caption: `Communes dont l’accessibilité change — ${unitLabel}`,
      columns: [
        { key: 'nom', label: 'Commune', format: (c) => [c.nom, c.delta == null ? whyNoDelta(c) : null], csv: (c) => c.nom },
        { key: 'code', label: 'Code INSEE', csvOnly: true },
        { key: 'population', label: 'Habitants', csvOnly: true },
        { key: 'before', label: 'Avant', num: true, format: (c) => valueCell(c.before, c.missing_before), csv: (c) => c.before ?? null },
        { key: 'after', label: 'Après', num: true, format: (c) => valueCell(c.after, c.missing_after), csv: (c) => c.after ?? null },
        { key: 'delta', label: 'Écart', num: true, format: (c) => (c.delta != null ? signedSmall(c.delta) : h('span', { class: 'muted', title: 'pas de valeur : raison sous le nom de la commune' }, '—')), csv: (c) => c.delta ?? null },
        { key: 'missing_before', label: 'Raison (avant)', csvOnly: true, value: (c) => missingText(c.missing_before) ?? '' },
        { key: 'missing_after', label: 'Raison (après)', csvOnly: true, value: (c) => missingText(c.missing_after) ?? '' },
      ],
      rows: communes,
      sort: { key: 'delta', dir: 'desc' },
      limit: 30,
      empty: 'Aucune commune dont l’accessibilité change.',
      csvName: `scenario-${kind}-accessibilite-communes.csv`,
    });
    const unknownAfter = communes.filter((c) => c.after == null).length;
    const siteCell = (v, which, site) => {
      if (v != null) return fmtValue(v);
      if (which === 'before' && site.op === 'add') return h('span', { class: 'muted' }, 'nouveau');
      if (which === 'after' && site.op === 'remove') return h('span', { class: 'muted' }, 'retiré');
      return h('span', { class: 'reason' }, 'capacité inconnue');
    };
    const sitesTable = (acc.sites ?? []).length ? dataTable({
      id: 'scenario-acc-sites',
      caption: 'Sites du scénario',
      columns: [
        { key: 'name', label: 'Site', value: (x) => changes[x.change]?.name ?? displayName(x.name) ?? x.id },
        { key: 'supply_before', label: 'Offre avant', num: true, format: (x) => siteCell(x.supply_before, 'before', x) },
        { key: 'supply_after', label: 'Offre après', num: true, format: (x) => siteCell(x.supply_after, 'after', x) },
        { key: 'demand_in_catchment', label: 'Demande Σ w·P', num: true, format: (x) => int(x.demand_in_catchment) },
        { key: 'ratio_after', label: 'Ratio après', num: true, format: (x) => siteCell(x.ratio_after, 'after', x) },
        { key: 'communes_reached', label: 'Communes atteintes', num: true, format: (x) => int(x.communes_reached) },
      ],
      rows: acc.sites,
      csvName: `scenario-${kind}-accessibilite-sites.csv`,
    }) : null;
    const terr = acc.territories ?? [];
    const meanCell = (side) => (side?.mean != null ? fmtValue(side.mean) : h('span', { class: 'muted' }, 'aucune valeur'));
    const terrTable = terr.length ? dataTable({
      id: 'scenario-acc-territories',
      caption: 'Moyenne par territoire (communes avec une valeur)',
      columns: [
        { key: 'name', label: 'Territoire', format: (t) => [t.name, h('span', { class: 'unit-line' }, TYPE_LABELS[t.territory_type] ?? t.territory_type)] },
        { key: 'known', label: 'Avec valeur', num: true, value: (t) => t.after?.communes_with_value ?? null, format: (t) => `${int(t.after?.communes_with_value)} / ${int(t.communes)}` },
        { key: 'mean_before', label: 'Avant', num: true, value: (t) => t.before?.mean ?? null, format: (t) => meanCell(t.before) },
        { key: 'mean_after', label: 'Après', num: true, value: (t) => t.after?.mean ?? null, format: (t) => meanCell(t.after) },
        { key: 'delta_mean', label: 'Écart', num: true, format: (t) => (t.delta_mean != null ? signedSmall(t.delta_mean) : h('span', { class: 'muted' }, 'inconnu')) },
      ],
      rows: terr,
      sort: { key: 'delta_mean', dir: 'desc' },
      limit: 20,
      csvName: `scenario-${kind}-accessibilite-territoires.csv`,
    }) : null;
    // The territory looked at first, when the service gives its mean.
    const t = result?.inside;
    const here = t ? terr.find((x) => x.territory_type === t.territory_type && x.code === t.code) : null;
    return h('section', { class: 'acc-delta', id: 'scenario-accessibility' },
      h('h4', null, 'Accessibilité potentielle', acc.title ? h('span', { class: 'unit-line' }, `${acc.title} — ${unitLabel}`) : null),
      here ? h('p', { class: 'summary-line', id: 'scenario-acc-inside' }, h('strong', null, `${here.name} : `),
        here.before?.mean != null && here.after?.mean != null
          ? [`moyenne ${fmtValue(here.before.mean)} → ${fmtValue(here.after.mean)} `, h('strong', null, `(${signedSmall(here.delta_mean)})`), ` ${unitLabel}, ${int(here.after.communes_with_value)} communes avec une valeur sur ${int(here.communes)}.`]
          : `pas de moyenne : aucune commune avec une valeur (${int(here.after?.communes_with_value ?? 0)} sur ${int(here.communes)}).`) : null,
      unknownAfter ? h('p', { class: 'note' }, `${plural(unknownAfter, 'commune')} sans valeur après le scénario (raison dans le tableau) : leur écart n’est pas calculé.`) : null,
      acc.caveat ? h('p', { class: 'note' }, h('strong', null, 'Limite : '), acc.caveat) : null,
      communeTable.el,
      terrTable ? h('details', { class: 'table-details', open: window.innerWidth > 760 || null }, h('summary', null, `Accessibilité par territoire (${int(terr.length)})`), terrTable.el) : null,
      sitesTable ? h('details', { class: 'table-details' }, h('summary', null, 'Sites : offre, demande et ratio'), sitesTable.el) : null);
  }

  /** A signed value that does not round a small change to « +0 ». */
  function signedSmall(v) {
    if (v == null) return '—';
    const text = signedValue(v);
    return v !== 0 && /^[+−]0$/.test(text) ? `${v > 0 ? '+' : '−'}< 0,001` : text;
  }

  /** Any other shape of accessibility member: scalars as a list, arrays of rows as tables. */
  function genericAccessibility(acc, depth = 0) {
    const fmt = (key, v) => (typeof v === 'number' ? (/delta|change|diff/.test(key) ? signedValue(v) : fmtValue(v)) : String(v ?? '—'));
    const label = (key) => key.replace(/_/g, ' ');
    const entries = Object.entries(acc);
    const scalars = entries.filter(([, v]) => v == null || typeof v !== 'object');
    const arrays = entries.filter(([, v]) => Array.isArray(v) && v.length && typeof v[0] === 'object');
    const nested = entries.filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v));
    return h('section', { class: 'acc-delta', id: depth ? null : 'scenario-accessibility' },
      depth ? null : h('h4', null, 'Accessibilité potentielle'),
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
      depth < 2 ? nested.map(([key, v]) => [h('h5', null, label(key)), genericAccessibility(v, depth + 1)]) : null);
  }

  /* ---------------------------------------------------------- siting */

  function sitingSection() {
    const out = h('div', { 'aria-live': 'polite', id: 'siting-result' });
    const kSel = countSelect({ label: 'Nombre de sites', counts: [1, 2, 3, 5], max: meta.limits.sitingK, preferred: 3 });
    const run = async () => {
      const t = lookedAt();
      if (!t) { fill(out, errorBox('Choisissez d’abord un territoire (« Territoire regardé » ci-dessus, ou dans la vue Territoire).')); return; }
      const [unit, val] = threshold.split(':');
      const thr = `${num(Number(val), 1)} ${unit === 'km' ? 'km' : 'min'}`;
      out.setAttribute('aria-busy', 'true');
      fill(out, loading('Recherche des meilleurs emplacements…'));
      // From the same structures as the scenario: the planner's list when it holds the kind.
      const c = choice();
      const withList = listParams(c, kind);
      try {
        const path = `/siting${qs({ territory: territoryParam(t), kind, k: kSel.select.value, [unit === 'km' ? 'within_km' : 'within_min']: val, ...withList })}`;
        const s = withList.list ? await withToken(path) : await api(path);
        const words = k();
        const f = s.facilities?.list ? s.facilities : null;
        const which = f ? `la liste « ${f.list.name} »` : `la liste des ${words.plural}`;
        const used = f ? h('p', { class: 'note list-used-note', id: 'siting-facilities' }, h('span', { class: 'list-swatch', 'aria-hidden': 'true' }), ' ',
          h('strong', null, 'Calculé avec '), usedWords(f)) : null;
        if (!(s.population > 0) && s.population_out_of_scope > 0) {
          fill(out, used, h('p', { class: 'caveat strong', id: 'siting-out-of-scope' }, h('strong', null, 'Non couvert : '),
            `${which} ne couvre pas ce territoire : pas de suggestion (${plural(s.communes_out_of_scope, 'commune')}, ${habitants(s.population_out_of_scope)} hors de ${which}).`));
          return;
        }
        fill(out,
          used,
          h('p', null, `${s.territory_name} : `, s.share_within_before != null
            ? `${pct(s.share_within_before)} de la population comptée à moins de ${thr} aujourd’hui.`
            : `aucune part calculée à ${thr}.`),
          s.population_out_of_scope > 0
            ? h('p', { class: 'caveat' }, h('strong', null, 'Non couvert : '), `${plural(s.communes_out_of_scope, 'commune')}, ${habitants(s.population_out_of_scope)} hors de ${which}, non comptés ni proposés.`)
            : null,
          s.picks.length
            ? h('ol', { class: 'picks' }, s.picks.map((p) => h('li', null,
              h('strong', null, displayName(p.nom)), ` : +${int(p.marginal_population)} habitants couverts${p.share_within_after != null ? ` (${pct(p.share_within_after)} après)` : ''} `,
              h('button', { type: 'button', class: 'small secondary', onclick: () => add(p.lon, p.lat, displayName(p.nom)) }, 'Ajouter au scénario'))))
            : h('p', { class: 'muted' }, 'Aucun emplacement ne rapproche d’habitants supplémentaires au seuil choisi.'),
          h('p', { class: 'note' }, 'Choix glouton parmi les chefs-lieux des communes du territoire, à partir des structures existantes (sans tenir compte des changements du scénario).'));
      } catch (e) {
        fill(out, errorBox(e, withList.list ? listRefusal(c, e) : undefined));
      } finally {
        out.removeAttribute('aria-busy');
      }
    };
    return h('details', { class: 'siting' },
      h('summary', null, 'Suggestions d’implantation'),
      h('p', { class: 'hint' }, 'Où placer de nouvelles structures pour couvrir le plus d’habitants au seuil choisi, dans le territoire regardé ?'),
      kSel.el,
      h('button', { type: 'button', onclick: run }, 'Proposer des emplacements'),
      out);
  }

  mapCtl.onClick(({ lngLat, point, facility, commune }) => {
    if (ctx.view !== 'scenario') return false;
    if (mode === 'remove') {
      // A structure of a list (drawn over the official ones) is removed like an official one.
      const listed = ctx.lists.at(point);
      const c = choice();
      if (listed) {
        if (listUsed() && listed.list.id === c.list) remove(listed.structure);
        else announce(`Cette structure est celle d’une liste que le scénario n’utilise pas (« ${listed.list.name} »).`);
        return true;
      }
      if (facility && !facility.properties.op && listUsed() && c.used === 'list') {
        announce(`Le scénario utilise la liste « ${c.name} » seule : retirez une structure de la liste (cercles violets).`);
        return true;
      }
      if (facility && !facility.properties.op) { remove(facility); return true; }
      announce(`Aucune structure existante à cet endroit : ${CLICK.toLowerCase()} un symbole.`);
      hint(`Aucune structure ici : ${CLICK.toLowerCase()} un symbole de structure du type choisi.`);
      return true;
    }
    add(lngLat.lng, lngLat.lat, commune?.properties?.nom);
    return true;
  });

  // A shared link (#scenario=<id>) is read now, before the router rewrites the address.
  const sharedId = sharedScenarioId();
  update();
  territoryChanged();
  renderStructures();
  if (sharedId) openShared(sharedId);

  return {
    show() {
      // The chosen kind's structures must be visible to be removed by a click.
      layers.show(kind);
      showList();
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
