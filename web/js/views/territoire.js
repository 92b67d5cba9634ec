// View 2 — Territoire: pick a CLS, EPCI, département or région by name → zoom to it,
// population, share within thresholds of each kind, mean distances, accessibility, and
// the sortable table of underserved communes with CSV export. Its overlays: the territory
// outlined and its underserved communes marked. It publishes the territory it shows
// (store key `territory`) for the scenario's siting suggestions. With a planner's list
// chosen (« Mes listes », store key `facilitiesChoice`), the summary and the coverage are
// asked with it, and the kinds and profiles computed with the list say so.

import { createListsPanel, withToken, choiceOf, listParams, usedWords, listRefusal, OFFICIAL } from '../layers.js';
import { api, qs, isAbort } from '../api.js';
import { h, fill, errorBox, loading, dataTable, searchBox, select, partialBadge, slug, newId, announcer, revealResult, CLICK } from '../ui.js';
import { int, kmFromM, minutes, pct, pop, habitants, value as fmtValue, plural, num, capital, displayName } from '../format.js';
import { TYPE_LABELS, missingText } from '../labels.js';
import { createPerimeters } from '../perimeters.js';

/** Official zonage codes, in the order of the columns. */
const ZONAGE_COLUMNS = [
  { code: '1_ZIP', short: 'ZIP' },
  { code: '2_ZAC', short: 'ZAC' },
  { code: '3_HZ', short: 'Hors zonage' },
  { code: '4_ZAR', short: 'ZAR' },
];
/** APL classes of the national rule (DREES/DGOS FAQ). */
const APL_CLASSES = {
  zip_eligible: 'APL ≤ 2,5 : éligible ZIP',
  vivier: '2,5 < APL ≤ 4 : vivier',
  outside: 'APL > 4 : hors vivier',
  manque: 'Valeur manquante',
};
/** The service's rule with French arrows read as words (« → » is read badly). */
function frenchRule(rule) {
  return (rule ?? '').replace(/→ /g, ': ').replace(/\s*;\s*/g, ' ; ');
}

const THRESHOLDS = [
  { value: 'km:5', label: '5 km' }, { value: 'km:10', label: '10 km' }, { value: 'km:20', label: '20 km' }, { value: 'km:30', label: '30 km' },
  { value: 'min:10', label: '10 minutes' }, { value: 'min:15', label: '15 minutes' }, { value: 'min:20', label: '20 minutes' }, { value: 'min:30', label: '30 minutes' },
];

export function createTerritoire(ctx, root) {
  const { mapCtl, meta, store } = ctx;
  const overlays = mapCtl.overlays('territoire');
  const kinds = meta.kindsFor('coverage');
  let current = null; // {type, code, summary}
  let underserved = []; // codes marked on the map
  let covKind = kinds[0]?.id;
  let covThreshold = 'km:10';
  let summaryController = null;
  let coverageController = null;
  let zonageController = null;
  let zonageValues = 'drees';

  const typeSel = select({
    label: 'Type de territoire',
    options: [{ value: 'cls,epci,departement,region', label: 'Tous' }, ...['cls', 'epci', 'departement', 'region'].map((t) => ({ value: t, label: TYPE_LABELS[t] }))],
    value: 'cls,epci,departement,region',
  });
  const search = searchBox({
    label: 'Nom du territoire',
    placeholder: 'ex. Thouarsais, Deux-Sèvres, Nouvelle-Aquitaine',
    hint: 'Accents et majuscules indifférents. Choisissez dans la liste avec les flèches puis Entrée.',
    source: async (q, signal) => {
      const r = await api(`/search${qs({ q, type: typeSel.select.value, limit: 10 })}`, { signal });
      return r.results.map((x) => ({
        label: x.nom,
        detail: `${TYPE_LABELS[x.type] ?? x.type}${x.type === 'departement' || x.type === 'region' ? ` ${x.code}` : ''} · ${habitants(x.population)}`,
        value: x,
      }));
    },
    onPick: (x) => ctx.go('territoire', [x.type, x.code]),
  });
  typeSel.select.addEventListener('change', () => search.input.dispatchEvent(new Event('input')));

  const clsList = h('ul', { class: 'chips', 'aria-label': 'Contrats locaux de santé' },
    meta.cls.map((c) => h('li', null, h('button', { type: 'button', class: 'chip', onclick: () => ctx.go('territoire', ['cls', c.code]) }, c.nom))));

  const result = h('div', { class: 'result' });
  const say = announcer();
  // « Mes listes » (layers.js): a planner's own list, and which structures the coverage uses.
  const lists = createListsPanel(ctx);
  store.subscribe('facilitiesChoice', () => reloadSummary());
  // Custom perimeters: « Mes périmètres » and « Créer un périmètre » (perimeters.js).
  const perimeters = createPerimeters(ctx);
  fill(root,
    h('h2', null, 'Territoire'),
    h('p', { class: 'intro' }, 'Choisissez un contrat local de santé, un EPCI, un département ou une région : population, part des habitants proches de chaque type de structure, accessibilité et communes mal desservies.'),
    h('div', { class: 'search-row' }, typeSel.el, search.el),
    say.el,
    meta.cls.length ? h('div', { class: 'quick' }, h('p', { class: 'hint', id: 'cls-quick' }, 'Contrats locaux de santé décrits dans les données :'), clsList) : null,
    lists.el,
    perimeters.el,
    result);

  async function open(type, code) {
    summaryController?.abort();
    summaryController = new AbortController();
    const signal = summaryController.signal;
    current = { type, code, summary: null };
    lists.territory(type, code);
    underserved = [];
    overlays.clear();
    perimeters.outline(type === 'perimeter' ? code : null);
    store.set('territory', null);
    result.setAttribute('aria-busy', 'true');
    fill(result, loading('Calcul du résumé du territoire…'));
    try {
      const s = await fetchSummary(type, code, signal);
      current.summary = s;
      store.set('territory', { type, code, nom: s.nom });
      search.set(s.nom);
      renderSummary(s);
      draw();
      mapCtl.fitBbox(s.bbox, { maxZoom: 10 });
      document.title = `${s.nom} — Territoire — careaccess`;
      revealResult(result.querySelector('h3'));
      loadZonage();
      await loadCoverage();
    } catch (e) {
      if (isAbort(e)) return;
      const choice = choiceOf(store);
      fill(result, errorBox(e, listRefusal(choice, e) ?? { 404: type === 'perimeter' ? `aucun périmètre enregistré « ${code} » (il a peut-être été supprimé).` : `aucun territoire « ${code} » de ce type (${TYPE_LABELS[type] ?? type}) dans les données.` }),
      choice.list ? backToOfficial() : null);
    } finally {
      if (!signal.aborted) result.removeAttribute('aria-busy');
    }
  }

  /** The summary, with the planner's list when one is chosen (and the token it needs). */
  function fetchSummary(type, code, signal) {
    const choice = choiceOf(store);
    const path = `/territories/${encodeURIComponent(type)}/${encodeURIComponent(code)}${qs(listParams(choice))}`;
    return choice.list ? withToken(path, { signal }) : api(path, { signal });
  }

  /** The choice of structures changed: the same territory again, where the page is. */
  async function reloadSummary() {
    if (!current) return;
    const { type, code } = current;
    if (!current.summary) { open(type, code); return; } // still opening: again, with the new choice
    summaryController?.abort();
    summaryController = new AbortController();
    const signal = summaryController.signal;
    result.setAttribute('aria-busy', 'true');
    try {
      const s = await fetchSummary(type, code, signal);
      current.summary = s;
      renderSummary(s);
      draw();
      say.say(`${s.nom} : résumé recalculé avec ${usedWords(s.facilities ?? choiceOf(store))}.`);
      await loadCoverage();
    } catch (e) {
      if (isAbort(e)) return;
      const choice = choiceOf(store);
      fill(result, errorBox(e, listRefusal(choice, e)), choice.list ? backToOfficial() : null);
    } finally {
      if (!signal.aborted) result.removeAttribute('aria-busy');
    }
  }

  function backButton() {
    return h('button', { type: 'button', class: 'linkish', onclick: () => store.set('facilitiesChoice', OFFICIAL) }, 'Revenir aux structures officielles');
  }
  function backToOfficial() {
    return h('p', null, backButton());
  }

  const coverageBox = h('div', { class: 'coverage' });
  const zonageBox = h('div', { class: 'zonage', id: 'territory-zonage' });

  function renderSummary(s) {
    const bandsOf = (k) => s.kinds?.[k.id]?.bands ?? [];
    const first = kinds.map(bandsOf).find((b) => b.length) ?? [];
    const bandLabel = (b) => `${num(b.threshold.value, 1)} ${b.threshold.unit === 'km' ? 'km' : 'min'}`;
    const missing = meta.kinds.filter((k) => !k.available || !s.kinds?.[k.id]);
    const present = meta.kinds.filter((k) => k.available && s.kinds?.[k.id]);
    // The kinds and profiles the service computed with the planner's list say so.
    const f = s.facilities?.list ? s.facilities : null;
    const listUse = (x) => (x?.facilities === 'list' || x?.facilities === 'both' ? x.facilities : null);
    const withList = (used) => h('span', { class: 'unit-line list-used' }, h('span', { class: 'list-swatch', 'aria-hidden': 'true' }),
      used === 'list' ? ' avec la liste seule' : ' officielles + la liste');
    const kindHead = (k) => h('th', { scope: 'row' }, k.short, s.kinds[k.id].liste_partielle ? h('span', { class: 'star', title: 'liste partielle' }, '*') : null,
      listUse(s.kinds[k.id]) ? withList(listUse(s.kinds[k.id])) : null);
    // A share is null when nobody is counted (the list does not speak here): « — ».
    const shareRows = present.map((k) => h('tr', { dataset: { kind: k.id, facilities: listUse(s.kinds[k.id]) ?? 'official' } }, kindHead(k),
      first.map((b0) => {
        const b = s.kinds[k.id].bands.find((x) => x.threshold.unit === b0.threshold.unit && x.threshold.value === b0.threshold.value);
        return b?.share_within == null
          ? h('td', { class: 'n muted', title: b ? 'personne n’est compté pour ce type ici' : null }, '—')
          : h('td', { class: 'n' }, pct(b.share_within));
      })));
    // What the shares leave out, per kind, in words (kinds with the same numbers together).
    const noteGroups = new Map();
    const addNote = (type, key, k, text) => {
      const id = `${type}|${key}`;
      if (!noteGroups.has(id)) noteGroups.set(id, { type, kinds: [], text });
      noteGroups.get(id).kinds.push(k);
    };
    for (const k of present) {
      const d = s.kinds[k.id];
      if (d.population_out_of_scope > 0) {
        addNote('hors_couverture', `${d.communes_out_of_scope}|${d.population_out_of_scope}|${d.population_counted}`, k,
          [`${plural(d.communes_out_of_scope ?? 0, 'commune')}, ${habitants(d.population_out_of_scope)} hors de la liste`,
            d.population_counted > 0 ? ` (parts calculées sur les ${habitants(d.population_counted)} couverts).` : ' : la liste ne parle pas pour ce territoire, aucune part n’est calculée.']);
      }
      if (d.population_no_structure > 0) {
        addNote('aucune_structure_par_la_route', `${d.population_no_structure}`, k,
          `${habitants(d.population_no_structure)} sans structure accessible par la route (îles, outre-mer) : comptés au-delà de tous les seuils.`);
      }
      if (d.population_unknown > 0) addNote('inconnue', `${d.population_unknown}`, k, `${habitants(d.population_unknown)} sans distance connue.`);
    }
    const kindNotes = [...noteGroups.values()].map((g) => h('li', { dataset: { kinds: g.kinds.map((k) => k.id).join(' '), note: g.type } },
      h('strong', null, `${g.kinds.map((k) => k.short).join(', ')}${g.type === 'hors_couverture' ? ' — non couvert' : ''} : `), g.text));
    const meanRows = present.map((k) => {
      const d = s.kinds[k.id];
      return h('tr', null, kindHead(k),
        h('td', { class: 'n' }, kmFromM(d.mean_distance_m)),
        h('td', { class: 'n' }, minutes(d.mean_car_min)),
        h('td', { class: 'n' }, int(d.structures_in_territory)));
    });
    const accRows = Object.entries(s.accessibility ?? {}).map(([id, a]) => h('tr', { dataset: { profile: id, facilities: listUse(a) ?? 'official' } },
      h('th', { scope: 'row' }, meta.profileName(id), h('span', { class: 'unit-line' }, a.unit_label ?? ''),
        listUse(a) ? withList(listUse(a)) : null,
        a.communes_with_value != null ? h('span', { class: `unit-line known${a.communes_with_value < (a.communes ?? s.communes) ? ' partial' : ''}` },
          `valeur connue pour ${int(a.communes_with_value)} ${a.communes_with_value >= 2 ? 'communes' : 'commune'} sur ${int(a.communes ?? s.communes)}`,
          a.population_unknown > 0 ? ` (${habitants(a.population_unknown)} sans valeur)` : '') : null),
      h('td', { class: 'n' }, fmtValue(a.mean)),
      h('td', { class: 'n range' }, a.min != null ? `${fmtValue(a.min)} – ${fmtValue(a.max)}` : '—')));
    const caveats = Object.entries(s.accessibility ?? {}).filter(([, a]) => a.caveat).map(([id, a]) => h('li', null, h('strong', null, `${meta.profileName(id)} : `), a.caveat));
    const anyPartial = meta.kinds.some((k) => s.kinds?.[k.id]?.liste_partielle);
    const kindSel = select({
      label: 'Type de structure',
      options: kinds.map((k) => ({ value: k.id, label: capital(k.plural) })),
      value: covKind,
      onChange: (v) => { covKind = v; loadCoverage(); },
    });
    const thrSel = select({
      label: 'Seuil',
      options: [{ value: 'km:5', label: '5 km', group: "À vol d'oiseau" }, ...THRESHOLDS.slice(1, 4).map((t) => ({ ...t, group: "À vol d'oiseau" })), ...THRESHOLDS.slice(4).map((t) => ({ ...t, group: 'En voiture (estimé)' }))],
      value: covThreshold,
      onChange: (v) => { covThreshold = v; loadCoverage(); },
    });
    const headId = newId('terr');
    fill(result,
      h('h3', { id: headId, class: 'territory-name' }, s.nom, ' ', h('span', { class: 'badge' }, TYPE_LABELS[s.type] ?? s.type)),
      h('dl', { class: 'facts big' },
        h('dt', null, 'Population'), h('dd', null, habitants(s.population)),
        h('dt', null, 'Communes'), h('dd', null, int(s.communes))),
      f ? h('div', { class: 'note list-used-note', id: 'territory-facilities' },
        h('p', null, h('span', { class: 'list-swatch', 'aria-hidden': 'true' }), ' ', h('strong', null, 'Structures utilisées : '),
          `${usedWords(f)} (${f.list.legend}${f.list.scope ? `, complète pour ${f.list.scope}` : ''}) pour les types qu’elle contient ; les autres types : structures officielles. `,
          backButton()),
        (s.notes ?? []).length ? h('ul', null, s.notes.map((n) => h('li', null, String(n)))) : null) : null,
      h('p', { class: 'report-link' }, h('a', { href: `/territories/${encodeURIComponent(current.type)}/${encodeURIComponent(current.code)}/report`, target: '_blank', rel: 'noopener' }, 'Portrait imprimable'), ' (nouvel onglet)'),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Part de la population proche des structures' },
        h('table', { class: 'data', id: 'territory-kinds' },
          h('caption', null, 'Part de la population à moins de… de la structure la plus proche'),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Type'),
            first.map((b) => h('th', { scope: 'col', class: 'n' }, bandLabel(b))))),
          h('tbody', null, shareRows))),
      kindNotes.length ? h('ul', { class: 'kind-notes', id: 'territory-kind-notes' }, kindNotes) : null,
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Distances moyennes' },
        h('table', { class: 'data', id: 'territory-means' },
          h('caption', null, 'Distance et temps moyens jusqu’à la structure la plus proche'),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Type'),
            h('th', { scope: 'col', class: 'n' }, "À vol d'oiseau"),
            h('th', { scope: 'col', class: 'n' }, 'En voiture (estimé)'),
            h('th', { scope: 'col', class: 'n' }, 'Structures dans le territoire'))),
          h('tbody', null, meanRows))),
      missing.length ? h('p', { class: 'note' }, `${missing.map((k) => k.short).join(', ')} : pas de données (${missing[0].reason ?? 'non calculé'}).`) : null,
      h('p', { class: 'note' }, "Distances à vol d'oiseau depuis le chef-lieu de chaque commune ; temps en voiture estimés ; moyennes pondérées par la population.",
        anyPartial ? ' * Liste partielle : les parts sont sous-estimées là où des structures manquent ; « — » : personne n’est compté (la liste ne couvre pas ce territoire).' : ''),
      accRows.length ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Accessibilité' },
        h('table', { class: 'data', id: 'territory-acc' },
          h('caption', null, 'Accessibilité potentielle localisée (moyenne des communes qui ont une valeur)'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Offre (unité)'), h('th', { scope: 'col', class: 'n' }, 'Moyenne'), h('th', { scope: 'col', class: 'n' }, 'Communes : min – max'))),
          h('tbody', null, accRows))) : null,
      caveats.length ? h('details', { class: 'caveats' }, h('summary', null, 'Limites de ces indicateurs'), h('ul', null, caveats)) : null,
      // The ARS reviews the zonage from the APL: next to the accessibility it explains.
      h('h3', { id: 'zonage-heading' }, 'APL et zonage des médecins'),
      select({
        label: 'Valeurs comparées au zonage',
        options: [
          { value: 'drees', label: 'APL DREES 2021 (médecins ≤ 65 ans)' },
          { value: 'ours', label: 'Accessibilité calculée ici (approchée)' },
        ],
        value: zonageValues,
        onChange: (v) => { zonageValues = v; loadZonage(); },
      }).el,
      zonageBox,
      h('h3', null, 'Communes mal desservies'),
      h('div', { class: 'row' }, kindSel.el, thrSel.el),
      coverageBox);
  }

  /* ---------------------------------------------------------- APL against the zonage */

  async function loadZonage() {
    if (!current?.summary) return;
    zonageController?.abort();
    zonageController = new AbortController();
    const signal = zonageController.signal;
    zonageBox.setAttribute('aria-busy', 'true');
    fill(zonageBox, loading('Comparaison des classes d’APL au zonage officiel…'));
    try {
      const z = await api(`/territories/${encodeURIComponent(current.type)}/${encodeURIComponent(current.code)}/zonage${qs({ values: zonageValues })}`, { signal });
      renderZonage(z);
    } catch (e) {
      if (isAbort(e)) return;
      fill(zonageBox, errorBox(e, { 404: 'ce service ne donne pas la comparaison au zonage pour ce territoire (version plus ancienne du service, ou territoire inconnu).' }));
    } finally {
      if (!signal.aborted) zonageBox.removeAttribute('aria-busy');
    }
  }

  function renderZonage(z) {
    const cells = z.cells ?? [];
    const classKey = (c) => (c.ours == null ? 'manque' : c.ours === 'hors_vivier' ? 'outside' : c.ours);
    const rowsOrder = ['zip_eligible', 'vivier', 'outside', 'manque'].filter((k) => cells.some((c) => classKey(c) === k));
    const known = ZONAGE_COLUMNS.map((x) => x.code);
    const codes = [...new Set(cells.map((c) => c.official))]
      .sort((a, b) => (known.indexOf(a) + 1 || 99) - (known.indexOf(b) + 1 || 99) || a.localeCompare(b));
    const cellOf = (k, code) => cells.find((c) => classKey(c) === k && c.official === code);
    const rows = rowsOrder.map((k) => ({
      key: k,
      label: APL_CLASSES[k],
      cells: Object.fromEntries(codes.map((code) => [code, cellOf(k, code) ?? null])),
      communes: cells.filter((c) => classKey(c) === k).reduce((a, c) => a + c.communes, 0),
      population: cells.filter((c) => classKey(c) === k).reduce((a, c) => a + c.population, 0),
    }));
    const cellContent = (c) => {
      if (!c) return h('span', { class: 'muted' }, '—');
      const mark = c.agrees === true ? ['accord', '✓'] : c.agrees === false ? ['écart', '≠'] : null;
      return h('span', { class: `zcell${mark ? (c.agrees ? ' agree' : ' disagree') : ''}` },
        h('span', { class: 'zc-n' }, mark ? h('span', { class: 'zc-mark', 'aria-hidden': 'true' }, `${mark[1]} `) : null, int(c.communes),
          h('span', { class: 'sr-only' }, c.communes >= 2 ? ' communes' : ' commune')),
        h('span', { class: 'unit-line' }, pop(c.population)),
        mark ? h('span', { class: 'sr-only' }, ` (${mark[0]})`) : null);
    };
    const colLabel = (code) => ZONAGE_COLUMNS.find((x) => x.code === code)?.short ?? (code === 'absent' ? 'Sans code' : code);
    const table = dataTable({
      id: 'zonage-table',
      caption: `Communes (et leurs habitants) par classe d’APL et zonage officiel des médecins — ${z.territory_name}`,
      columns: [
        { key: 'label', label: z.values === 'apl_mg_65' || zonageValues === 'drees' ? 'APL DREES 2021' : 'Accessibilité calculée ici', sortable: false, csvLabel: 'Classe d’APL' },
        ...codes.flatMap((code) => [
          {
            key: `c:${code}`, label: colLabel(code), num: true, sortable: false,
            value: (r) => r.cells[code]?.communes ?? 0,
            format: (r) => cellContent(r.cells[code]),
            csvLabel: `${colLabel(code)} : communes`,
          },
          { key: `p:${code}`, label: `${colLabel(code)} : habitants`, csvOnly: true, value: (r) => r.cells[code]?.population ?? 0 },
        ]),
        { key: 'communes', label: 'Total', num: true, sortable: false, format: (r) => h('span', null, int(r.communes), h('span', { class: 'sr-only' }, ' communes'), h('span', { class: 'unit-line' }, pop(r.population))), csvLabel: 'Total : communes' },
        { key: 'population', label: 'Total : habitants', csvOnly: true },
      ],
      rows,
      empty: 'Aucune commune dans ce territoire.',
      csvName: () => `apl-zonage-${slug(z.territory_name)}-${zonageValues}.csv`,
    });
    const a = z.agreement ?? {};
    const agreeText = a.share_communes != null
      ? [h('strong', null, pct(a.share_communes)), ` des communes comparées concordent (${int(a.communes_agree)} sur ${int(a.communes_compared)})`,
        a.share_population != null ? [', soit ', h('strong', null, pct(a.share_population)), ` des habitants comparés (${habitants(a.population_agree)} sur ${habitants(a.population_compared)})`] : '',
        '.']
      : 'Aucune commune comparable (valeur ou code officiel manquant).';
    say.say(`${z.territory_name}, APL et zonage : ${a.share_communes != null ? `${pct(a.share_communes)} des communes comparées concordent` : 'aucune commune comparable'}.`);
    const legendHead = h('p', { class: 'hint' },
      'Lignes : classe de l’APL selon la règle nationale ; colonnes : zonage officiel. ',
      h('span', { class: 'zcell agree inline' }, h('span', { 'aria-hidden': 'true' }, '✓ '), 'accord'), ' ',
      h('span', { class: 'zcell disagree inline' }, h('span', { 'aria-hidden': 'true' }, '≠ '), 'écart'), ' ; sans marque : non comparé.');
    fill(zonageBox,
      h('p', { class: 'summary-line', id: 'zonage-agreement' }, h('span', { class: 'badge warn' }, z.status ?? 'à confirmer'), ' ', agreeText),
      h('p', { class: 'note' }, h('strong', null, 'Classes : '), frenchRule(z.rule)),
      legendHead,
      table.el,
      h('details', { class: 'caveats', open: true }, h('summary', null, 'Limites de cette comparaison (à confirmer)'),
        h('ul', null,
          (z.caveats ?? []).map((c) => h('li', null, capital(c), /[.!?]$/.test(c) ? '' : '.')),
          a.rule ? h('li', null, h('strong', null, 'Accord : '), a.rule.replace(/^accord = /, ''), '.') : null)),
      z.notes ? h('p', { class: 'note' }, [].concat(z.notes).join(' ')) : null);
  }

  async function loadCoverage() {
    if (!current?.summary) return;
    coverageController?.abort();
    coverageController = new AbortController();
    const signal = coverageController.signal;
    const [unit, val] = covThreshold.split(':');
    const kind = meta.kind(covKind);
    coverageBox.setAttribute('aria-busy', 'true');
    fill(coverageBox, loading('Recherche des communes au-delà du seuil…'));
    try {
      const choice = choiceOf(store);
      const withList = listParams(choice, covKind);
      const path = `/territories/${encodeURIComponent(current.type)}/${encodeURIComponent(current.code)}/coverage${qs({ kind: covKind, [unit === 'km' ? 'within_km' : 'within_min']: val, ...withList })}`;
      const c = withList.list ? await withToken(path, { signal }) : await api(path, { signal });
      renderCoverage(c, kind, unit, Number(val));
    } catch (e) {
      if (isAbort(e)) return;
      const choice = choiceOf(store);
      fill(coverageBox, errorBox(e, listParams(choice, covKind).list ? listRefusal(choice, e) : undefined));
    } finally {
      if (!signal.aborted) coverageBox.removeAttribute('aria-busy');
    }
  }

  function renderCoverage(c, kind, unit, val) {
    const thr = `${num(val, 1)} ${unit === 'km' ? 'km' : 'minutes'}`;
    const band = c.bands.find((b) => (b.threshold.unit === 'km') === (unit === 'km') && b.threshold.value === val);
    const list = c.underserved ?? [];
    const noneCounted = !(c.population > 0) && c.population_out_of_scope > 0;
    underserved = list.map((u) => u.code);
    const shareText = band?.share_within != null ? `${pct(band.share_within)} à moins de ${thr} de ${kind.nearest}` : 'aucune part calculée';
    say.say(`${c.territory_name} : ${noneCounted ? `la liste des ${kind.plural} ne couvre pas ce territoire` : `${habitants(c.population)} comptés, ${shareText}`} ; ${plural(list.length, 'commune')} au-delà.`);
    draw();
    const reasonOf = (r) => (r.reason ? missingText(r.reason) : null);
    const table = dataTable({
      id: 'underserved-table',
      caption: `${plural(list.length, 'commune')} à plus de ${thr} ${unit === 'km' ? "à vol d'oiseau" : 'en voiture'} de ${kind.nearest} — ${c.territory_name}`,
      columns: [
        {
          key: 'nom', label: 'Commune', csv: (r) => r.nom,
          format: (r) => [h('button', { type: 'button', class: 'linkish', onclick: () => zoomCommune(r.code) }, r.nom),
            r.nearest_name ? h('span', { class: 'unit-line' }, `plus proche : ${displayName(r.nearest_name)}`) : null],
        },
        { key: 'code', label: 'Code INSEE', csvOnly: true },
        { key: 'population', label: 'Habitants', num: true, format: (r) => int(r.population) },
        {
          key: 'distance_m', label: 'Distance', num: true,
          format: (r) => (r.distance_m == null && r.reason ? h('span', { class: 'reason' }, reasonOf(r)) : kmFromM(r.distance_m)),
          csv: (r) => (r.distance_m == null ? null : r.distance_m / 1000), csvLabel: "Distance à vol d'oiseau (km)",
        },
        { key: 'car_min', label: 'Temps', num: true, format: (r) => (r.car_min == null && r.reason ? '—' : minutes(r.car_min)), csv: (r) => r.car_min, csvLabel: 'Temps en voiture estimé (min)' },
        { key: 'nearest_name', label: 'Structure la plus proche', csvOnly: true, value: (r) => displayName(r.nearest_name) },
        { key: 'reason', label: 'Raison de l’absence de distance', csvOnly: true, value: (r) => reasonOf(r) ?? '' },
      ],
      rows: list,
      sort: { key: 'population', dir: 'desc' },
      limit: 100,
      empty: noneCounted
        ? `Aucune commune comptée : la liste des ${kind.plural} ne couvre pas ce territoire.`
        : `Aucune commune au-delà du seuil : toute la population comptée est à moins de ${thr} de ${kind.nearest}.`,
      csvName: () => `communes-mal-desservies-${slug(c.territory_name)}-${kind.id}-${unit}${val}.csv`,
    });
    const means = c.mean_distance_m != null
      ? ` Distance moyenne : ${kmFromM(c.mean_distance_m)} (maximum ${kmFromM(c.max_distance_m)}), temps moyen estimé : ${minutes(c.mean_car_min)}.`
      : '';
    const used = c.facilities?.list
      ? h('p', { class: 'note', id: 'coverage-facilities' }, h('strong', null, 'Structures utilisées : '),
        `${c.facilities.used === 'list' ? 'ma liste seule' : 'données officielles et ma liste'} « ${c.facilities.list.name} » (${c.facilities.list.legend}, complète pour ${c.facilities.list.scope}).`,
        ...(c.notes ?? []).map((n) => [' ', n]))
      : null;
    fill(coverageBox,
      used,
      noneCounted
        ? h('p', { class: 'caveat strong', id: 'coverage-out-of-scope' }, h('strong', null, 'Non couvert : '),
          `la liste des ${kind.plural} ne couvre pas ce territoire (${plural(c.communes_out_of_scope, 'commune')}, ${habitants(c.population_out_of_scope)}) : aucune part ni distance n’est calculée.`)
        : h('p', { class: 'summary-line' },
          band?.share_within != null ? [h('strong', null, pct(band.share_within)), ` de la population comptée (${habitants(band.population_within)}) à moins de ${thr} de ${kind.nearest}`,
            band.population_beyond ? `, ${habitants(band.population_beyond)} au-delà` : '', '.'] : `Aucune part calculée à ${thr}.`,
          means),
      !noneCounted && c.population_out_of_scope > 0
        ? h('p', { class: 'caveat', id: 'coverage-out-of-scope' }, h('strong', null, 'Non couvert : '),
          `${plural(c.communes_out_of_scope, 'commune')}, ${habitants(c.population_out_of_scope)} hors de la liste des ${kind.plural}, non comptés.`) : null,
      c.population_no_structure > 0
        ? h('p', { class: 'note' }, `${habitants(c.population_no_structure)} sans structure accessible par la route (îles, outre-mer) : comptés au-delà du seuil.`) : null,
      c.population_unknown > 0 ? h('p', { class: 'note' }, `${habitants(c.population_unknown)} sans distance connue, non comptés.`) : null,
      kind.partial && !noneCounted ? h('p', { class: 'caveat' }, partialBadge(), ` ${kind.caveat ?? 'Liste partielle.'} Des communes peuvent apparaître mal desservies à cause d'une structure absente de la liste.`) : null,
      list.length ? h('p', { class: 'hint' }, `Ces communes sont entourées en rouge-orangé sur la carte. Distance à vol d'oiseau, temps en voiture estimé. ${CLICK} un nom pour y aller.`) : null,
      table.el);
  }

  /** The territory outlined and its underserved communes marked, while this view is shown. */
  function draw() {
    if (ctx.view !== 'territoire' || !current?.summary) return;
    overlays.set({
      territory: { type: current.type, code: current.code },
      marks: underserved.map((c) => [c, 'underserved']),
    });
  }

  function zoomCommune(code) {
    const r = ctx.table?.byCode.get(code);
    if (!r) return;
    mapCtl.flyTo([r.ref_lon, r.ref_lat], 11);
    mapCtl.map.once('moveend', () => {
      const f = mapCtl.map.queryRenderedFeatures(mapCtl.map.project([r.ref_lon, r.ref_lat]), { layers: ['communes-fill'] })[0];
      if (f) ctx.popupCommune(f, [r.ref_lon, r.ref_lat]);
    });
  }

  return {
    show(args, { changed }) {
      const [type, code] = args;
      if (type && code) {
        const t = type === 'dep' ? 'departement' : type === 'reg' ? 'region' : type;
        if (!current || current.type !== t || current.code !== code) { open(t, code); return; }
      }
      if (current?.summary) {
        draw();
        if (changed) mapCtl.fitBbox(current.summary.bbox, { maxZoom: 10 });
      }
      perimeters.show();
    },
    hide() { overlays.clear(); perimeters.hide(); },
  };
}
