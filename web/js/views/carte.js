// View 1 — Carte: communes choropleth by a chosen indicator, legend with unit and
// classes, structure layers with toggles, outlines, and the table alternative
// (communes in the current view, sortable, CSV).

import { api } from '../api.js';
import { h, fill, errorBox, loading, dataTable, select, partialBadge, slug, announcer, CLICK } from '../ui.js';
import { int, value as fmtValue, capital } from '../format.js';
import { classOfRow, missingOf, withClassesOf } from '../indicators.js';
import { missingReasonText } from '../labels.js';
import { symbolImg, facilityMinzoom } from '../map.js';

const IND_KEY = 'careaccess.indicateur';
const DEFAULT_INDICATOR = 'apl_mg';

/**
 * The columns of the indicator the Carte will show first (named in the address, or the
 * last one chosen, or the default), so that the page can ask for them with the first
 * ones; missing-reason columns the service lacks are ignored by the table.
 */
export function firstIndicatorColumns(args) {
  const id = args[0] ?? localStorage.getItem(IND_KEY) ?? DEFAULT_INDICATOR;
  const why = id.startsWith('acc_') ? `${id}_manque` : id.replace(/_(km|min)$/, '_manque');
  return [id, why];
}

export function createCarte(ctx, root) {
  const { mapCtl, meta, store, layers } = ctx;
  let indicator = null;
  const facilityStatus = h('div', { class: 'field-status', role: 'status', 'aria-live': 'polite' });

  const indicatorBox = h('div', { class: 'indicator-box', 'aria-busy': 'true' }, loading('Calcul des classes des indicateurs…'));
  const zoomBox = h('div', { class: 'zoom-box' });
  const info = h('div', { class: 'indicator-info' });
  const legendBox = h('div', { class: 'legend' });
  const say = announcer();
  const tableBox = h('div');
  const tableDetails = h('details', { class: 'table-alt' },
    h('summary', null, 'Tableau des communes de la vue (alternative à la carte)'),
    h('p', { class: 'hint' }, "Les communes dont le chef-lieu est dans la partie de carte affichée, les moins bien desservies d'abord. Déplacez ou zoomez la carte pour changer la liste."),
    tableBox);

  fill(root,
    h('h2', null, 'Carte des communes'),
    h('p', { class: 'intro' }, 'Choisissez un indicateur : chaque commune prend la couleur de sa classe. ',
      h('strong', null, 'Plus la couleur est foncée, moins la commune est bien desservie.'),
      ` ${CLICK} une commune ou une structure pour le détail.`),
    indicatorBox,
    zoomBox,
    say.el,
    info,
    legendBox,
    h('fieldset', { class: 'toggles' },
      h('legend', null, 'Structures affichées'),
      meta.kinds.map((k) => facilityToggle(k)),
      meta.kinds.some((k) => !k.available) ? h('p', { class: 'hint' }, `${capital(meta.kinds.filter((k) => !k.available).map((k) => k.plural).join(', '))} : ${meta.kinds.find((k) => !k.available).reason}.`) : null,
      facilityStatus),
    h('fieldset', { class: 'toggles' },
      h('legend', null, 'Contours'),
      [['regions', 'Régions'], ['departements', 'Départements'], ['epci', 'EPCI (à partir du zoom départemental)'], ['cls', 'Contrats locaux de santé (tirets)']].map(([id, label]) => {
        const cb = h('input', { type: 'checkbox', id: `outline-${id}`, checked: true, onchange: () => mapCtl.setOutlineVisible(id, cb.checked) });
        return h('div', { class: 'check' }, cb, h('label', { for: `outline-${id}` }, label));
      })),
    tableDetails,
    sourcesDetails(meta));

  function facilityToggle(k) {
    const id = `fac-toggle-${k.id}`;
    if (!k.available) {
      return h('div', { class: 'check disabled' },
        h('input', { type: 'checkbox', id, disabled: true, 'aria-describedby': `${id}-why` }),
        h('label', { for: id }, symbolImg(k.id), `${k.title}`),
        h('p', { class: 'why', id: `${id}-why` }, 'Indisponible : aucune structure dans les données chargées (voir ci-dessous).'));
    }
    const cb = h('input', { type: 'checkbox', id, checked: layers.isShown(k.id) || null, onchange: () => layers.show(k.id, cb.checked) });
    return h('div', { class: 'check' }, cb,
      h('label', { for: id }, symbolImg(k.id), `${k.title} (${int(k.count)})`, k.partial ? [' ', partialBadge()] : null),
      facilityMinzoom(k) ? h('p', { class: 'why' }, 'Visibles en zoomant à l’échelle d’un département.') : null,
      k.partial && k.caveat ? h('p', { class: 'why' }, k.caveat) : null);
  }

  // The structure layers are shown from the toggles here or by another view (the
  // scenario needs its kind clickable): the checkboxes and the legend follow the store.
  store.subscribe('facilities', (shown) => {
    for (const k of meta.kinds) {
      const cb = root.querySelector(`#fac-toggle-${k.id}`);
      if (cb && !cb.disabled) cb.checked = shown.has(k.id);
    }
    renderMapLegend();
  });
  store.subscribe('facilityStatus', (st) => fill(facilityStatus,
    st?.loading ? loading(`Chargement des ${st.loading.plural}…`) : st?.error ? errorBox(st.error) : null));

  let requested = null; // indicator named by the URL before the indicators were ready
  ctx.indicatorsReady.then((list) => {
    const stored = requested ?? localStorage.getItem(IND_KEY);
    const initial = list.find((i) => i.id === stored && !i.disabled) ?? list.find((i) => i.id === DEFAULT_INDICATOR) ?? list.find((i) => !i.disabled);
    const s = select({
      label: 'Indicateur',
      options: list.map((i) => ({ value: i.id, label: i.label, group: i.group, disabled: i.disabled })),
      value: initial.id,
      onChange: (id) => setIndicator(id),
    });
    s.select.id = 'indicator';
    s.el.querySelector('label').setAttribute('for', 'indicator');
    const unavailable = meta.kinds.filter((k) => !k.available);
    const reasons = [...new Set(unavailable.map((k) => k.reason))];
    indicatorBox.removeAttribute('aria-busy');
    fill(indicatorBox, s.el,
      unavailable.length ? h('p', { class: 'hint' }, `Indisponibles : ${unavailable.map((k) => k.plural).join(', ')} — ${reasons.join(' ; ')}.`) : null);
    setIndicator(initial.id);
  }).catch((e) => fill(indicatorBox, errorBox(e)));

  /** Shows an indicator once its values are loaded (the latest one asked wins). */
  let asked = null;
  async function setIndicator(id) {
    const ind = ctx.indicators.find((i) => i.id === id);
    if (!ind || ind.disabled) return;
    asked = ind;
    localStorage.setItem(IND_KEY, id);
    if (!ind.classes || !ctx.communes.has(ind.id)) {
      fill(legendBox, loading('Chargement des valeurs des communes…'));
      try {
        await ctx.prepareIndicator(ind);
      } catch (e) {
        if (asked === ind) fill(legendBox, errorBox(e));
        return;
      }
      if (asked !== ind) return;
    }
    base = ind;
    document.documentElement.dataset.indicator = id;
    say.say(`Carte des communes : ${ind.title}. Légende en ${ind.classes.length} classes sous le choix de l’indicateur.`);
    fill(info,
      h('h3', null, ind.title),
      ind.unit ? h('p', { class: 'unit' }, 'Unité : ', h('strong', null, ind.unit)) : null,
      ind.caveat ? h('p', { class: 'caveat' }, h('strong', null, 'Attention : '), ind.caveat) : null,
      ind.quantiles ? classScopeField() : null);
    applyClasses();
  }

  /**
   * Classes by quantiles (accessibility, APL of the other professions) can be made from
   * the communes in view, so that a département's contrasts show; the fixed classes
   * (distances, times, the DREES marks of the GPs' APL, the zonage) stay what they are.
   */
  let base = null; // the indicator chosen, with its national classes
  let classScope = 'france';
  function classScopeField() {
    const radio = (value, label) => h('div', { class: 'check' },
      h('input', { type: 'radio', id: `class-scope-${value}`, name: 'class-scope', value, checked: classScope === value || null, onchange: () => { classScope = value; applyClasses(); } }),
      h('label', { for: `class-scope-${value}` }, label));
    return h('fieldset', { class: 'toggles class-scope' },
      h('legend', null, 'Classes calculées sur'),
      radio('france', 'toutes les communes de France'),
      radio('vue', 'les communes de la partie de carte affichée'));
  }
  /** Colours, legend and table with the classes of the chosen scope. */
  function applyClasses() {
    if (!base) return;
    const scope = classScope === 'vue' && base.quantiles ? legendScope() : null;
    indicator = scope?.within ? withClassesOf(base, ctx.table.rows.filter(scope.within)) : base;
    mapCtl.setIndicator(indicator, ctx.communes.rows);
    renderLegend();
    renderMapLegend();
    if (tableDetails.open) renderTable();
  }

  /**
   * Legend as a table: colour, class, communes, population (the counts need the commune
   * table). Communes without a value are counted by the service's reason: not covered by
   * the list, no structure by road, or unknown (the detailed reasons on hover and below).
   */
  let missingShown = []; // missing classes with communes, for the legend over the map
  function renderLegend() {
    const ind = indicator;
    if (!ind) return;
    const counts = ind.classes.map(() => ({ n: 0, pop: 0 }));
    const missing = new Map(ind.missingClasses.map((m) => [m, { n: 0, pop: 0, reasons: new Map() }]));
    const table = ctx.communes;
    const haveTable = table.has('population') && table.has(ind.id);
    const scope = legendScope();
    if (haveTable) {
      for (const r of table.rows) {
        if (scope.within && !scope.within(r)) continue;
        const c = classOfRow(ind, r);
        let slot;
        if (c) slot = counts[ind.classes.indexOf(c)];
        else {
          const m = missingOf(ind, r);
          slot = missing.get(m.cls);
          // By reason, without the number of sites of each commune.
          const key = m.reasons.length ? m.reasons.map((x) => missingReasonText({ code: x.code, n: null })).join(' ; ') : m.text;
          const agg = slot.reasons.get(key) ?? { n: 0, pop: 0 };
          agg.n++;
          agg.pop += r.population ?? 0;
          slot.reasons.set(key, agg);
        }
        slot.n++;
        slot.pop += r.population ?? 0;
      }
    }
    missingShown = haveTable ? ind.missingClasses.filter((m) => missing.get(m).n) : ind.missingClasses.slice(-1);
    const reasonsTitle = (m) => [...missing.get(m).reasons].map(([text, a]) => `${capital(text)} : ${int(a.n)} communes, ${int(a.pop)} habitants`).join('\n');
    const row = (color, label, cnt, hatch, title) => h('tr', { title: title || null, dataset: hatch ? { missing: hatch } : null },
      h('td', null, h('span', { class: `swatch${hatch ? ' hatch' : ''}`, style: `background-color:${color}`, 'aria-hidden': 'true' })),
      h('th', { scope: 'row' }, label),
      h('td', { class: 'n' }, haveTable ? int(cnt.n) : '…'),
      h('td', { class: 'n' }, haveTable ? int(cnt.pop) : '…'));
    // The detailed reasons of the "unknown" rows, written out (hover is not for everyone).
    const unknownDetails = missingShown.filter((m) => m.codes == null && missing.get(m).reasons.size > 0 && ind.missingColumn);
    const outside = missingShown.find((m) => m.key === 'hors_couverture');
    fill(legendBox,
      h('table', { class: 'legend-table', id: 'legend-table' },
        h('caption', null, 'Légende', ind.unit ? ` — ${ind.unit}` : '', h('span', { class: 'legend-scope' }, ` — ${scope.label}`)),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Couleur')),
          h('th', { scope: 'col' }, 'Classe'),
          h('th', { scope: 'col', class: 'n' }, 'Communes'),
          h('th', { scope: 'col', class: 'n' }, 'Habitants'))),
        h('tbody', null,
          ind.classes.map((c, i) => row(c.color, c.label, counts[i])),
          missingShown.map((m) => row(m.color, m.label, missing.get(m), m.key, reasonsTitle(m))))),
      unknownDetails.map((m) => h('div', { class: 'legend-reasons', id: 'legend-reasons' },
        h('p', { class: 'hint' }, `${capital(m.label.replace(/ \(raison au survol\)$/, ''))}, selon le service :`),
        h('ul', { class: 'hint' }, [...missing.get(m).reasons].sort((a, b) => b[1].n - a[1].n).map(([text, a]) =>
          h('li', null, `${capital(text)} : ${int(a.n)} ${a.n >= 2 ? 'communes' : 'commune'}, ${int(a.pop)} habitants`))))),
      outside ? h('p', { class: 'hint' }, `« Non couvert par la liste » : la liste ${ind.coverageKind?.partial ? `partielle des ${ind.coverageKind.plural} ` : ''}ne parle pas pour le département de ces communes ; le service n’y donne pas de valeur.`) : null,
      missingShown.some((m) => m.key === 'aucune_structure_par_la_route') ? h('p', { class: 'hint' }, '« Aucune structure accessible par la route » : îles et outre-mer sans structure de ce type dans la zone reliée par la route.') : null,
      ind.classNote ? h('p', { class: 'hint' }, ind.classNote) : null,
      ind.type === 'seq' ? h('p', { class: 'hint' }, 'Chaque classe contient sa borne basse : « 5 à moins de 10 km » compte 5 km, pas 10 km.') : null);
  }

  /**
   * Where the legend counts: the communes whose chef-lieu is in the part of the map shown
   * (once their positions are loaded), or all of France when it is all in view (the
   * classes follow the view only when asked: « Classes calculées sur »).
   */
  function legendScope() {
    const b = mapCtl.map.getBounds();
    const all = { label: 'France entière', within: null };
    if (!ctx.table || !ctx.table.rows.length) return all;
    const inView = (r) => r.ref_lon != null && b.contains([r.ref_lon, r.ref_lat]);
    const outside = ctx.table.rows.filter((r) => r.ref_lon != null && !inView(r));
    if (!outside.length) return all;
    if (outside.every((r) => r.departement?.startsWith('97'))) {
      return { label: 'France métropolitaine (l’outre-mer est hors de la vue)', within: inView };
    }
    const dep = zoomedDep && ctx.table.rows.filter((r) => r.departement === zoomedDep.code);
    if (dep?.length && dep.every(inView) && mapCtl.map.getZoom() >= 6.5) {
      return { label: `${zoomedDep.nom} (${zoomedDep.code}) et alentours dans la vue`, within: inView };
    }
    return { label: 'communes de la partie de carte affichée', within: inView };
  }
  let legendTimer = 0;
  mapCtl.map.on('moveend', () => {
    clearTimeout(legendTimer);
    legendTimer = setTimeout(() => {
      if (classScope === 'vue' && base?.quantiles) applyClasses();
      else if (indicator) renderLegend();
    }, 200);
  });

  /** « Aller au département » : the ARS analyst's usual scale. */
  let zoomedDep = null;
  ctx.indicatorsReady.then(() => {
    const deps = new Map();
    for (const r of ctx.communes.rows) if (r.departement && !deps.has(r.departement)) deps.set(r.departement, r.departement_nom ?? r.departement);
    if (!deps.size) return;
    const s = select({
      label: 'Aller au département',
      options: [{ value: '', label: 'France entière' }, ...[...deps].sort((a, b) => a[0].localeCompare(b[0])).map(([code, nom]) => ({ value: code, label: `${code} — ${nom}` }))],
      value: '',
      onChange: (code) => goToDep(code, deps.get(code)),
    });
    s.select.id = 'zoom-dep';
    s.el.querySelector('label').setAttribute('for', 'zoom-dep');
    fill(zoomBox, s.el);
  }).catch(() => {});
  const overlay = mapCtl.overlays('carte');
  async function goToDep(code, nom) {
    if (!code) {
      zoomedDep = null;
      overlay.clear();
      mapCtl.fitFrance();
      return;
    }
    zoomedDep = { code, nom };
    overlay.set({ territory: { type: 'departement', code } });
    try {
      const t = await api(`/territories/departement/${encodeURIComponent(code)}`);
      if (zoomedDep?.code === code) mapCtl.fitBbox(t.bbox);
    } catch (e) {
      fill(zoomBox.querySelector('.field-error') ?? zoomBox.appendChild(h('div', { class: 'field-error' })), errorBox(e));
    }
  }

  /** Compact legend over the map, folded by default on phones (the panel has the full table). */
  let legendOpen = window.innerWidth > 760;
  function renderMapLegend() {
    const el = document.getElementById('map-legend');
    if (!indicator) return;
    const ind = indicator;
    const kinds = meta.kinds.filter((k) => k.available && layers.isShown(k.id));
    const body = h('div', { id: 'map-legend-body', hidden: !legendOpen || null });
    const toggle = h('button', {
      type: 'button', class: 'ml-toggle', 'aria-expanded': legendOpen ? 'true' : 'false', 'aria-controls': 'map-legend-body',
      onclick: () => { legendOpen = !legendOpen; renderMapLegend(); document.querySelector('#map-legend .ml-toggle')?.focus(); },
    }, legendOpen ? 'Légende ▾' : 'Légende ▸');
    fill(el, toggle, body);
    fill(body,
      h('p', { class: 'ml-title' }, ind.label, ind.unit && ind.type !== 'cat' && !/\((km|min)\)/.test(ind.label) ? h('span', { class: 'ml-unit' }, ` (${ind.unit})`) : null),
      h('ul', null,
        ind.classes.map((c) => h('li', null, h('span', { class: 'swatch', style: `background:${c.color}` }), shortLabel(c.label))),
        missingShown.map((m) => h('li', null, h('span', { class: 'swatch hatch', style: `background-color:${m.color}` }), shortLabel(m.label)))),
      kinds.length ? h('ul', { class: 'ml-symbols' }, kinds.map((k) => h('li', null, symbolImg(k.id), k.short, k.partial ? ' (liste partielle)' : ''))) : null);
  }

  function shortLabel(label) {
    return label.replace(' (aucune offre dans la zone)', '').replace(/ \(.*\)$/, '').replace(/ — .*$/, '');
  }

  let table = null;
  function renderTable() {
    if (!ctx.table) {
      fill(tableBox, loading('Chargement du tableau des communes…'));
      ctx.tableReady.then(renderTable, (e) => fill(tableBox, errorBox(e)));
      return;
    }
    const ind = indicator;
    const b = mapCtl.map.getBounds();
    const rows = ctx.table.rows.filter((r) => r.ref_lon != null && b.contains([r.ref_lon, r.ref_lat]));
    const columns = [
      { key: 'nom', label: 'Commune', format: (r) => h('button', { type: 'button', class: 'linkish', onclick: () => zoomTo(r) }, r.nom), csv: (r) => r.nom },
      { key: 'code', label: 'Code INSEE', csvOnly: true },
      { key: 'departement', label: 'Département', csvOnly: true },
      { key: 'population', label: 'Habitants', num: true, format: (r) => int(r.population) },
      {
        key: ind.id, label: ind.type === 'cat' ? 'Zonage' : `Valeur${ind.unit === 'km' ? ' (km)' : ind.unit === 'minutes' ? ' (min)' : ''}`, num: ind.type !== 'cat',
        csvLabel: `${ind.title}${ind.unit ? ` (${ind.unit})` : ''}`,
        format: (r) => {
          const c = classOfRow(ind, r);
          const m = c ? null : missingOf(ind, r);
          return h('span', { class: 'value-cell' },
            h('span', { class: `swatch${c ? '' : ' hatch'}`, style: `background-color:${c ? c.color : m.cls.color}`, 'aria-hidden': 'true' }),
            c ? (ind.type === 'cat' ? ind.format(r[ind.id]) : fmtValue(r[ind.id])) : h('span', { class: 'muted reason' }, m.text));
        },
        csv: (r) => (ind.type === 'cat' ? r[ind.id] : r[ind.id] ?? null),
      },
      { key: 'classe', label: 'Classe', csvOnly: true, value: (r) => classOfRow(ind, r)?.label ?? missingOf(ind, r).cls.label.replace(/ \(raison au survol\)$/, '') },
      { key: 'raison', label: 'Raison de l’absence de valeur', csvOnly: true, value: (r) => missingOf(ind, r)?.text ?? '' },
    ];
    const sort = ind.type === 'cat' ? { key: ind.id, dir: 'asc' } : { key: ind.id, dir: ind.worseHigh ? 'desc' : 'asc' };
    table = dataTable({
      caption: `${int(rows.length)} communes dans la vue — ${ind.label}${ind.unit && ind.type !== 'cat' ? ` (${ind.unit})` : ''}`,
      columns, rows, sort, limit: 50,
      empty: 'Aucune commune dans la partie de carte affichée.',
      csvName: () => `communes-vue-${slug(ind.id)}.csv`,
    });
    fill(tableBox, table.el);
  }
  function zoomTo(r) {
    mapCtl.flyTo([r.ref_lon, r.ref_lat], 11);
    mapCtl.map.once('moveend', () => {
      const f = mapCtl.map.queryRenderedFeatures(mapCtl.map.project([r.ref_lon, r.ref_lat]), { layers: ['communes-fill'] })[0];
      if (f) ctx.popupCommune(f, [r.ref_lon, r.ref_lat]);
    });
  }
  tableDetails.addEventListener('toggle', () => { if (tableDetails.open) renderTable(); });
  let moveTimer = 0;
  mapCtl.map.on('moveend', () => {
    if (!tableDetails.open || !indicator) return;
    clearTimeout(moveTimer);
    moveTimer = setTimeout(renderTable, 250);
  });
  // With the whole table come the communes' positions: the legend can count the view.
  ctx.tableReady.then(() => { if (base) applyClasses(); }).catch((e) => legendBox.append(errorBox(e)));

  return {
    show(args) {
      if (zoomedDep) overlay.set({ territory: { type: 'departement', code: zoomedDep.code } });
      if (args[0] && !ctx.indicators) requested = args[0];
      if (args[0] && ctx.indicators) {
        const sel = root.querySelector('#indicator');
        if (sel && ctx.indicators.some((i) => i.id === args[0] && !i.disabled)) { sel.value = args[0]; setIndicator(args[0]); }
      }
    },
    // The colours and structure layers stay for every view; the département's outline
    // only for this one.
    hide() { overlay.clear(); },
  };
}

function sourcesDetails(meta) {
  const sources = meta.dataset.sources ?? [];
  const unlisted = meta.allKinds.filter((k) => !meta.kinds.includes(k));
  return h('details', { class: 'sources' },
    h('summary', null, 'Sources des données, millésimes et licences'),
    h('p', { class: 'hint' }, `Données du build ${meta.dataset.build_id ?? ''}. Distances : ${meta.distanceModel ?? "à vol d'oiseau"}.`),
    h('ul', null, sources.map((s) => h('li', null,
      h('strong', null, s.title), ` — ${s.vintage ?? 'millésime inconnu'} ; ${s.licence ?? 'licence inconnue'}`,
      s.status !== 'built' ? h('span', { class: 'badge' }, ' non chargée') : null,
      s.partial_list ? [' ', partialBadge()] : null,
      s.caveat ? h('div', { class: 'caveat' }, s.caveat) : null))),
    unlisted.length ? h('p', { class: 'hint' }, `Types de structure que le service connaît mais sans aucune structure dans ces données : ${unlisted.map((k) => k.title).join(' ; ')}.`) : null,
    h('p', null, 'API et téléchargements : ', h('a', { href: '/api' }, 'description OpenAPI'), ' · ', h('a', { href: '/collections?f=json' }, 'collections (GeoJSON, CSV, FlatGeobuf)'), '.'));
}

