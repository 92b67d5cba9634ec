// View 5 — Détail d'un calcul (explain): the audit trail of a commune's 2SFCA
// accessibility: every site of its catchment with distance, weight, supply, the demand
// it shares, its ratio R_j and its contribution; they add up to the commune's value.
// A value the service cannot give (a site without known capacity, an unknown demand…) is
// not a number: the rows say « capacité inconnue » and the sum line gives the reason.
// Its overlays: the commune, lines to the sites (width by contribution), rings on them.
// When a planner's list is chosen (« Mes listes ») and holds the profile's kind of supply,
// the detail is asked with it: its sites (ids `liste:…`) are among the contributions.

import { api, qs, isAbort } from '../api.js';
import { h, fill, errorBox, loading, dataTable, searchBox, select, slug, announcer, CLICK } from '../ui.js';
import { int, kmFromM, minutes, num, value as fmtValue, habitants, capital, plural, displayName } from '../format.js';
import { missingText, missingReasons } from '../labels.js';
import { APL_PROFESSIONS } from '../indicators.js';
import { choiceOf, listParams, withToken, listRefusal, usedWords, listSite } from '../layers.js';

/** The DREES APL a user may come from (the map's indicator), with its unit. */
const DREES_APL = {
  apl_mg: { who: 'médecins généralistes', unit: 'consultations par an et par habitant standardisé' },
  ...Object.fromEntries(APL_PROFESSIONS.map(([id, who]) => [id, { who, unit: 'ETP pour 100 000 habitants' }])),
};

const DEMAND_LABEL = {
  population: 'population municipale',
  standardised: "population standardisée par l'âge (DREES)",
  pop75: 'population de 75 ans et plus',
};

export function createCalcul(ctx, root) {
  const { mapCtl, meta, store } = ctx;
  const overlays = mapCtl.overlays('calcul');
  const profiles = meta.profiles.filter((p) => p.hasIndicator);
  let code = null;
  let profile = profiles[0]?.id ?? 'mg';
  let last = null;
  let controller = null;
  /** The DREES APL shown on the map when this detail was asked for (#calcul/79329/mg/apl_mg). */
  let fromApl = null;

  const search = searchBox({
    label: 'Commune',
    placeholder: 'ex. Thouars',
    hint: `Ou bien : ${CLICK.toLowerCase()} une commune de la carte, puis « Détail du calcul ».`,
    source: async (q, signal) => {
      const r = await api(`/search${qs({ q, type: 'commune', limit: 8 })}`, { signal });
      return r.results.map((x) => ({ label: x.nom, detail: `${x.departement} · ${habitants(x.population)}`, value: x }));
    },
    onPick: (x) => ctx.go('calcul', [x.code, profile]),
  });
  const profSel = select({
    label: 'Accessibilité à',
    options: profiles.map((p) => ({ value: p.id, label: p.name })),
    value: profile,
    onChange: (v) => { profile = v; if (code) ctx.go('calcul', [code, profile]); },
  });
  const result = h('div', { class: 'result', id: 'explain-result' });
  const say = announcer();
  fill(root,
    h('h2', null, 'Détail d’un calcul d’accessibilité'),
    h('p', { class: 'intro' }, 'Chaque valeur d’accessibilité se vérifie à la main : voici les sites pris en compte, leur poids selon la distance, l’offre et la demande qu’ils partagent, et ce que chacun apporte.'),
    search.el, profSel.el, say.el, result);

  async function run() {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    result.setAttribute('aria-busy', 'true');
    last = null;
    overlays.clear();
    fill(result, loading('Chargement du détail du calcul…'));
    // The list, when it holds the kind of the profile's supply (msp for the MSP profile…).
    const choice = choiceOf(store);
    const withList = listParams(choice, meta.profile(profile)?.supply?.kind);
    try {
      const path = `/communes/${encodeURIComponent(code)}/explain${qs({ profile, ...withList })}`;
      const e = withList.list ? await withToken(path, { signal }) : await api(path, { signal });
      last = e;
      search.set(e.name);
      await render(e);
      draw();
    } catch (err) {
      if (isAbort(err)) return;
      fill(result, errorBox(err, (withList.list ? listRefusal(choice, err) : undefined) ?? {
        404: `aucune commune n’a le code « ${code} ».`,
        409: 'cette accessibilité ne peut pas être calculée avec les données chargées.',
      }));
    } finally {
      if (!signal.aborted) result.removeAttribute('aria-busy');
    }
  }

  function stepText(e) {
    const u = e.unit === 'km' ? 'km' : 'min';
    let lo = 0;
    return e.steps.map((s) => {
      const row = h('tr', null, h('th', { scope: 'row' }, `${num(lo, 1)} à ${num(s.upto, 1)} ${u}`), h('td', { class: 'n' }, num(s.weight, 2)));
      lo = s.upto;
      return row;
    });
  }

  function supplyText(e, p) {
    const s = e.supply ?? {};
    if (s.commune_indicator) return `établissements de la commune du site (${s.commune_indicator}) × consultations par établissement`;
    if (s.per_site === 'capacity') return 'capacité du site (places)';
    if (s.per_site === 'sites') return '1 par site';
    return p?.supply ? JSON.stringify(p.supply) : '—';
  }

  /**
   * Opened from the DREES APL map: its value comes first (it is what the user saw), then
   * ours, with why they differ — never our proxy as if it were the DREES number.
   */
  async function dreesBlock(e) {
    const d = fromApl && DREES_APL[fromApl];
    if (!d) return null;
    const t = ctx.table ?? await ctx.tableReady.catch(() => null);
    let v = t?.byCode.get(e.code)?.[fromApl];
    if (v === undefined) {
      const f = await api(`/collections/communes/items/${encodeURIComponent(e.code)}`).catch(() => null);
      v = f?.properties?.[fromApl];
    }
    const mg = fromApl === 'apl_mg';
    const caveat = meta.profile(e.profile)?.caveat ?? e.caveat;
    return h('section', { class: 'drees', id: 'explain-drees', 'aria-labelledby': 'explain-drees-head' },
      h('h4', { id: 'explain-drees-head' }, `APL aux ${d.who} (APL 2021, DREES)`),
      h('p', { class: 'big-value' }, v != null ? [h('strong', null, fmtValue(v)), ` ${d.unit}`] : [h('strong', null, 'Pas de valeur'), ' : la DREES ne donne pas d’APL pour cette commune.']),
      h('p', { class: 'note' }, 'C’est la valeur de la carte « APL » : celle que publie la DREES (millésime 2021).'),
      h('div', { class: 'caveat', id: 'explain-why-differ' },
        h('p', null, h('strong', null, mg ? 'Pourquoi le calcul ci-dessous donne un autre nombre : ' : 'Le calcul ci-dessous porte sur une autre offre : ')),
        mg
          ? h('ul', null,
            h('li', null, 'la DREES compte l’activité de chaque médecin généraliste (ses consultations et visites, d’après le SNDS), face à une demande standardisée selon l’âge des habitants, avec sa propre décroissance selon le temps de trajet ;'),
            h('li', null, 'le calcul ci-dessous (accessibilité potentielle localisée, méthode 2SFCA) compte les établissements de médecine générale du répertoire SIRENE comme approximation de l’offre, avec les distances et les poids affichés plus bas'),
            caveat ? h('li', null, h('strong', null, 'Limite du profil : '), capital(caveat), /[.]$/.test(caveat) ? '' : '.') : null)
          : h('p', null, `careaccess ne recalcule pas l’APL aux ${d.who} : le détail ci-dessous est celui des médecins généralistes (offre approchée par SIRENE), pour montrer la méthode.`)),
      h('h4', null, mg ? 'Le même indicateur calculé ici, pas à pas' : 'Calcul détaillé (médecins généralistes, approché)'));
  }

  /** Which structures the detail used, when a planner's list is among them. */
  function facilitiesLine(e) {
    const f = e.facilities?.list && e.facilities.used !== 'official' ? e.facilities : null;
    if (!f) return null;
    return h('p', { class: 'note list-used-note', id: 'explain-facilities' }, h('span', { class: 'list-swatch', 'aria-hidden': 'true' }), ' ',
      h('strong', null, 'Calculé avec '), usedWords(f),
      h('span', { class: 'unit-line' }, [f.list.legend, f.list.scope ? `complète pour ${f.list.scope}` : null].filter(Boolean).join(', ')));
  }

  async function render(e) {
    const drees = await dreesBlock(e);
    const p = meta.profile(e.profile);
    const u = e.unit === 'km' ? 'km' : 'min';
    const catchment = e.steps[e.steps.length - 1]?.upto;
    const missing = e.accessibility == null ? (missingText(e.missing) ?? (e.demand == null ? 'population de référence inconnue' : 'raison non donnée par le service')) : null;
    const contributions = e.contributions ?? [];
    if (e.accessibility == null && !contributions.length) {
      say.say(`${e.name} : pas de valeur, ${missing}.`);
      fill(result,
        h('h3', null, `${e.name} (${e.code})`),
        drees,
        h('p', { class: 'big-value', id: 'explain-value' }, h('strong', null, 'Pas de valeur'), ` : ${missing}.`),
        h('p', null, p?.title ?? meta.profileName(e.profile)),
        facilitiesLine(e),
        missingReasons(e.missing).some((r) => r.code === 'hors_couverture')
          ? h('p', { class: 'note' }, `La liste de cette offre ne parle pas pour le département de ${e.name} : le service ne calcule pas de valeur plutôt que de compter zéro.`) : null,
        e.caveat ? h('p', { class: 'caveat' }, e.caveat) : null);
      return;
    }
    // A site without known supply (or whose shared demand is not known) has no ratio.
    const unknownCell = (c) => h('span', { class: 'reason' }, c.supply == null ? 'capacité inconnue' : 'demande inconnue');
    const table = dataTable({
      id: 'explain-table',
      caption: `${contributions.length} sites à moins de ${num(catchment, 1)} ${u} de ${e.name}`,
      columns: [
        {
          key: 'site_name', label: 'Site', value: (c) => displayName(c.site_name) ?? c.site_id,
          format: (c) => [displayName(c.site_name) ?? c.site_id, listSite(c.site_id) ? h('span', { class: 'unit-line' }, 'de la liste') : null],
          csv: (c) => `${displayName(c.site_name) ?? c.site_id}${listSite(c.site_id) ? ' (liste)' : ''}`,
        },
        // Five columns fit a 440 px panel (and a phone): the time and the weight go under
        // the distance, the shared demand under the supply; the CSV keeps them apart.
        {
          key: 'distance_m', label: 'Distance, poids w', num: true,
          format: (c) => [kmFromM(c.distance_m), h('span', { class: 'unit-line' }, minutes(c.car_min)), h('span', { class: 'unit-line' }, `w = ${num(c.weight, 2)}`)],
          csv: (c) => c.distance_m / 1000, csvLabel: "Distance à vol d'oiseau (km)",
        },
        { key: 'car_min', label: 'Temps estimé', num: true, csvOnly: true, csvLabel: 'Temps en voiture estimé (min)' },
        { key: 'weight', label: 'Poids w', num: true, csvOnly: true },
        {
          key: 'supply', label: 'Offre S_j ÷ demande', num: true,
          format: (c) => [c.supply == null ? unknownCell(c) : fmtValue(c.supply), h('span', { class: 'unit-line' }, `÷ ${int(c.demand_in_catchment)}`)],
          csv: (c) => c.supply ?? 'capacité inconnue', csvLabel: 'Offre S_j',
        },
        { key: 'demand_in_catchment', label: 'Demande Σ w·P', num: true, csvOnly: true },
        { key: 'ratio', label: 'Ratio R_j', num: true, format: (c) => (c.ratio != null ? fmtValue(c.ratio) : c.supply == null ? h('span', { class: 'muted' }, '—') : unknownCell(c)), csv: (c) => c.ratio ?? (c.supply == null ? null : 'demande inconnue') },
        { key: 'contribution', label: 'Apport w·R_j', csvLabel: 'Contribution w·R_j', num: true, value: (c) => (c.ratio == null ? null : c.contribution), format: (c) => (c.ratio == null ? h('span', { class: 'muted' }, '—') : fmtValue(c.contribution)), csv: (c) => (c.ratio == null ? null : c.contribution) },
      ],
      rows: contributions,
      sort: { key: 'contribution', dir: 'desc' },
      empty: 'Aucun site dans la zone de chalandise : accessibilité nulle.',
      csvName: `calcul-${slug(e.name)}-${e.code}-${e.profile}.csv`,
    });
    if (e.accessibility == null) {
      // Sites are listed, but some term is unknown: the sum is not a value.
      const unknown = contributions.filter((c) => c.ratio == null).length;
      table.setFoot(h('tr', { class: 'sum-missing' },
        h('th', { scope: 'row', colspan: 4 }, 'Somme des contributions = accessibilité de la commune'),
        h('td', { class: 'n reason' }, h('strong', null, 'pas de valeur'), h('span', { class: 'unit-line' }, missing))));
      say.say(`${e.name} : pas de valeur, ${missing}.`);
      fill(result,
        h('h3', null, `${e.name} (${e.code})`),
        drees,
        h('p', { class: 'big-value', id: 'explain-value' }, h('strong', null, 'Pas de valeur'), ` : ${missing}.`),
        h('p', null, p?.title ?? meta.profileName(e.profile)),
        facilitiesLine(e),
        h('p', { class: 'caveat', id: 'explain-missing' }, h('strong', null, 'Pourquoi : '),
          `${capital(missing)}. ${unknown ? `${plural(unknown, 'site')} sur ${contributions.length} n’${unknown >= 2 ? 'ont' : 'a'} pas de ratio connu : ` : ''}la somme serait fausse (trop basse), le service ne donne donc pas de valeur plutôt que de compter zéro.`),
        e.caveat ? h('p', { class: 'note' }, h('strong', null, 'Limite : '), e.caveat) : null,
        h('dl', { class: 'facts' },
          h('dt', null, 'Demande de la commune (P)'), h('dd', null, e.demand != null ? `${int(e.demand)} — ${DEMAND_LABEL[e.demand_mode] ?? e.demand_mode}` : `inconnue — ${DEMAND_LABEL[e.demand_mode] ?? e.demand_mode}`),
          h('dt', null, 'Offre par site'), h('dd', null, supplyText(e, p))),
        table.el);
      return;
    }
    const sum = contributions.reduce((a, c) => a + (c.contribution ?? 0), 0);
    table.setFoot(h('tr', null,
      h('th', { scope: 'row', colspan: 4 }, 'Somme des contributions = accessibilité de la commune'),
      h('td', { class: 'n' }, h('strong', null, fmtValue(sum)))));
    const ok = Math.abs(sum - e.accessibility) <= 1e-6 * Math.max(1, Math.abs(e.accessibility));
    say.say(`${e.name} : ${fmtValue(e.accessibility)} ${e.unit_label}, somme de ${contributions.length} contributions.`);
    fill(result,
      h('h3', null, `${e.name} (${e.code})`),
      drees,
      h('p', { class: 'big-value', id: 'explain-value' }, h('strong', null, fmtValue(e.accessibility)), ` ${e.unit_label}`),
      h('p', null, p?.title ?? meta.profileName(e.profile)),
      facilitiesLine(e),
      e.caveat ? h('p', { class: 'caveat' }, h('strong', null, 'Attention : '), e.caveat) : null,
      !drees && e.profile === 'mg' && ctx.table?.byCode.get(e.code)?.apl_mg != null
        ? h('p', { class: 'note' }, `Pour comparaison, APL DREES 2021 de la commune : ${fmtValue(ctx.table.byCode.get(e.code).apl_mg)} consultations/an/habitant standardisé.`) : null,
      h('h4', null, 'Comment ce nombre est calculé'),
      h('ol', { class: 'steps' },
        h('li', null, `Pour chaque site j à moins de ${num(catchment, 1)} ${u} : son offre S_j (${supplyText(e, p)}) est divisée par la demande des communes qui l’entourent, chacune pondérée par son poids w selon son éloignement : R_j = ${num(e.result_scale, 0)} × S_j / Σ w·P.`),
        h('li', null, `L’accessibilité de ${e.name} est la somme des R_j de ces sites, pondérés par leur éloignement de ${e.name} : A = Σ w·R_j.`)),
      h('div', { class: 'two' },
        h('table', { class: 'data mini-steps' },
          h('caption', null, e.unit === 'km' ? "Poids selon la distance à vol d'oiseau" : 'Poids selon le temps en voiture estimé'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, e.unit === 'km' ? 'Distance' : 'Temps'), h('th', { scope: 'col', class: 'n' }, 'Poids w'))),
          h('tbody', null, stepText(e))),
        h('dl', { class: 'facts' },
          h('dt', null, 'Demande de la commune (P)'), h('dd', null, `${int(e.demand)} — ${DEMAND_LABEL[e.demand_mode] ?? e.demand_mode}`),
          h('dt', null, 'Échelle'), h('dd', null, `× ${int(e.result_scale)}`),
          h('dt', null, 'Modèle de distance'), h('dd', null, e.model === 'straight' ? "à vol d'oiseau" : e.model === 'road_estimate' ? 'temps en voiture estimé' : e.model))),
      h('p', { class: 'formula' }, h('code', null, e.formula)),
      table.el,
      h('p', { class: ok ? 'check-ok' : 'caveat' }, ok
        ? `Vérification : la somme des contributions (${fmtValue(sum)}) est bien la valeur de la commune.`
        : `Écart : la somme des contributions (${fmtValue(sum)}) diffère de la valeur (${fmtValue(e.accessibility)}).`));
  }

  /** Lines from the commune to each site (width by contribution). */
  async function draw() {
    if (ctx.view !== 'calcul' || !last) return;
    const e = last;
    const t = ctx.table ?? await ctx.tableReady.catch(() => null);
    const from = t?.byCode.get(e.code);
    if (ctx.view !== 'calcul' || last !== e) return; // left or replaced meanwhile
    overlays.set({ marks: [[e.code, 'selected']], origin: null, links: null, rings: null });
    if (!from) return;
    const o = [from.ref_lon, from.ref_lat];
    const p = meta.profile(e.profile);
    const kind = p?.supply?.kind;
    let byId = null;
    if (kind) {
      const fc = await ctx.facilities(kind).catch(() => null);
      byId = new Map((fc?.features ?? []).map((f) => [f.properties.id, f.geometry.coordinates]));
      // The sites of a list are placed from the list's own rows.
      const listId = e.facilities?.list?.id;
      if (listId) {
        const listed = await ctx.lists.structures(listId).catch(() => []);
        for (const f of listed) byId.set(f.properties.id, f.geometry.coordinates);
      }
    }
    const max = Math.max(...(e.contributions ?? []).map((c) => c.contribution ?? 0), 1e-12);
    const lines = [];
    const pts = [o];
    for (const c of e.contributions ?? []) {
      const to = byId ? byId.get(c.site_id) : (t.byCode.get(c.site_id) ? [t.byCode.get(c.site_id).ref_lon, t.byCode.get(c.site_id).ref_lat] : null);
      if (!to) continue;
      lines.push({ from: o, to, w: 0.8 + 4 * ((c.contribution ?? 0) / max) });
      pts.push(to);
    }
    if (ctx.view !== 'calcul' || last !== e) return;
    overlays.set({ origin: o, links: lines, rings: pts.slice(1) });
    mapCtl.fitPoints(pts, { maxZoom: 11 });
  }

  // Another choice of structures: the detail shown is asked again (now, or when shown).
  store.subscribe('facilitiesChoice', () => {
    if (!last) return;
    last = null;
    if (ctx.view === 'calcul' && code) run();
  });

  return {
    show(args) {
      const [c, pr, from] = args;
      const apl = from && DREES_APL[from] ? from : null;
      if (apl !== fromApl) { fromApl = apl; last = null; }
      if (pr && profiles.some((x) => x.id === pr)) { profile = pr; profSel.select.value = pr; }
      if (c && (c !== code || !last || last.profile !== profile)) { code = c; run(); return; }
      if (last) draw();
    },
    hide() { overlays.clear(); },
  };
}

