// Popups for a commune and for a structure.

/* global maplibregl */
import { h, partialBadge } from './ui.js';
import { habitants, km, minutes, phone, int, value as fmtValue, displayName, displayAddress } from './format.js';
import { positionNote } from './meta.js';
import { APL_PROFESSIONS, zonageLabel } from './indicators.js';
import { missingText, missingCode, formerCommune, formerCommuneText } from './labels.js';
import { symbolImg } from './map.js';

let popup = null;

function open(ctx, lngLat, content, className) {
  popup?.remove();
  // Focus moves to the title without scrolling: MapLibre's own focusAfterOpen scrolls
  // the map container when the popup is partly outside it.
  popup = new maplibregl.Popup({ maxWidth: '380px', focusAfterOpen: false, className: ['ca-popup', className].filter(Boolean).join(' ') })
    .setLngLat(lngLat)
    .setDOMContent(content)
    .addTo(ctx.mapCtl.map);
  const title = content.querySelector('.popup-title');
  if (title) { title.tabIndex = -1; title.focus({ preventScroll: true }); }
  const mine = popup;
  requestAnimationFrame(() => keepInView(ctx.mapCtl.map, mine));
  // Again once its symbol image and fonts have given the popup its final size (phones).
  setTimeout(() => { if (popup === mine) keepInView(ctx.mapCtl.map, mine); }, 300);
  return popup;
}

/** Pans the map so that a popup taller than the space left fits in it. */
function keepInView(map, p) {
  const el = p?.getElement();
  if (!el) return;
  const box = el.getBoundingClientRect();
  const area = map.getContainer().getBoundingClientRect();
  let dx = 0;
  let dy = 0;
  if (box.bottom > area.bottom - 8) dy = Math.min(box.bottom - area.bottom + 12, box.top - area.top - 8);
  else if (box.top < area.top + 8) dy = box.top - area.top - 12;
  if (box.right > area.right - 8) dx = box.right - area.right + 12;
  else if (box.left < area.left + 8) dx = box.left - area.left - 12;
  if (dx || dy) map.panBy([dx, dy], { duration: 0 });
}

/** Short units for the popup (the legend and tables give the full ones). */
const SHORT_UNITS = {
  mg: 'consult./an/hab.',
  msp: 'pour 10 000 hab.',
  ehpad: 'places / 100 000 hab. de 75 ans +',
  hospital: 'pour 100 000 hab.',
};

export function closePopup() {
  popup?.remove();
  popup = null;
}

/** Popup of a commune from a rendered feature of the communes layer. */
export function communePopup(ctx, feature, lngLat) {
  // A tile feature holds the code only: the rest comes from the commune table.
  const rec = ctx.table?.byCode.get(feature.properties.code) ?? {};
  const p = { ...rec, ...feature.properties };
  const ind = ctx.mapCtl.indicator;
  const rows = [];
  const missing = ctx.meta.kinds.filter((k) => !k.available);
  const val = (name) => p[name] ?? rec[name] ?? null;
  for (const k of ctx.meta.kinds) {
    if (!k.available) continue;
    const cur = ind && (ind.id === `${k.id}_km` || ind.id === `${k.id}_min`);
    const head = h('th', { scope: 'row' }, k.short, k.partial ? h('span', { class: 'star', title: 'liste partielle' }, '*') : null);
    const why = val(`${k.id}_manque`);
    if (val(`${k.id}_km`) == null && (why || k.missingColumn)) {
      // No distance: the service says why (not covered by the list, no structure by road…).
      rows.push(h('tr', { class: cur ? 'current muted' : 'muted', dataset: { manque: missingCode(why) ?? 'inconnue' } }, head,
        h('td', { colspan: 2, class: 'reason' }, missingText(why) ?? 'pas de valeur (raison non donnée)')));
      continue;
    }
    rows.push(h('tr', { class: cur ? 'current' : null }, head,
      h('td', { class: 'n' }, km(val(`${k.id}_km`))),
      h('td', { class: 'n' }, minutes(val(`${k.id}_min`)))));
  }
  const accRows = ctx.meta.profiles.filter((pr) => pr.hasIndicator).map((pr) => {
    const v = val(`acc_${pr.id}`);
    const why = v == null ? val(`acc_${pr.id}_manque`) : null;
    return h('tr', { class: ind?.id === `acc_${pr.id}` ? 'current' : null, dataset: v == null ? { manque: missingCode(why) ?? 'inconnue', profile: pr.id } : { profile: pr.id } },
      h('th', { scope: 'row' }, pr.name),
      v != null
        ? [h('td', { class: 'n' }, fmtValue(v)), h('td', { class: 'unit' }, SHORT_UNITS[pr.id] ?? pr.unit)]
        : h('td', { colspan: 2, class: 'reason muted' }, `pas de valeur : ${missingText(why) ?? 'raison non donnée'}`));
  });
  if (ctx.meta.properties.has('apl_mg')) {
    accRows.push(h('tr', { class: ind?.id === 'apl_mg' ? 'current' : null },
      h('th', { scope: 'row' }, 'APL médecins généralistes (DREES)'), h('td', { class: 'n' }, fmtValue(p.apl_mg)), h('td', { class: 'unit' }, 'consult./an/hab. standardisé')));
  }
  for (const [id, who] of APL_PROFESSIONS) {
    if (!ctx.meta.properties.has(id) || p[id] == null) continue;
    accRows.push(h('tr', { class: ind?.id === id ? 'current' : null },
      h('th', { scope: 'row' }, `APL ${who}`), h('td', { class: 'n' }, fmtValue(p[id])), h('td', { class: 'unit' }, 'ETP / 100 000 hab.')));
  }
  const explainProfile = ind?.profile ?? 'mg';
  const epci = p.epci ?? rec.epci;
  const content = h('div', { class: 'popup-body' },
    h('h2', { class: 'popup-title' }, p.nom ?? p.code),
    h('p', { class: 'sub' }, `${p.code} · ${habitants(p.population)} · `, [rec.epci_nom, rec.departement_nom ? `${rec.departement_nom} (${p.departement})` : p.departement].filter(Boolean).join(' · ')),
    p.cls ? h('p', { class: 'sub' }, String(p.cls).split(',').map((c) => ctx.meta.clsName(c.trim())).join(' · ')) : null,
    h('table', { class: 'mini' },
      h('caption', null, 'Structure la plus proche'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col', class: 'n' }, "À vol d'oiseau"), h('th', { scope: 'col', class: 'n' }, 'En voiture (estimé)'))),
      h('tbody', null, rows)),
    h('p', { class: 'note' },
      ctx.meta.kinds.some((k) => k.partial && k.available) ? '* liste partielle : une structure plus proche peut manquer. ' : '',
      missing.length ? `${missing.map((k) => k.short).join(', ')} : pas de données.` : ''),
    h('table', { class: 'mini' },
      h('caption', null, 'Accessibilité'),
      h('tbody', null, accRows)),
    ctx.meta.properties.has('zonage_mg') ? h('p', { class: 'sub' }, h('strong', null, 'Zonage médecins : '), zonageLabel(p.zonage_mg), ' (à confirmer)') : null,
    h('div', { class: 'popup-actions' },
      // From a DREES APL map, the detail says which number the map showed (#calcul/…/mg/apl_mg).
      h('button', { type: 'button', class: 'small', onclick: () => { closePopup(); ctx.go('calcul', [p.code, explainProfile, ...(/^apl_/.test(ind?.id ?? '') ? [ind.id] : [])]); } }, 'Détail du calcul'),
      h('button', { type: 'button', class: 'small secondary', onclick: () => { closePopup(); ctx.go('trouver', [p.code]); } }, 'Structures proches'),
      epci ? h('button', { type: 'button', class: 'small secondary', onclick: () => { closePopup(); ctx.go('territoire', ['epci', epci]); } }, 'Son EPCI') : null));
  return open(ctx, lngLat, content);
}

/** Popup of a structure (a feature of a facility layer or the scenario layer). */
export function facilityPopup(ctx, feature) {
  const p = feature.properties;
  const coords = feature.geometry.coordinates;
  if (p.op) {
    // A site of the scenario.
    return open(ctx, coords, h('div', { class: 'popup-body' },
      h('h2', { class: 'popup-title' }, displayName(p.nom) ?? 'Site du scénario'),
      h('p', { class: 'sub' }, p.op === 'remove' ? 'Structure retirée dans le scénario' : 'Structure ajoutée dans le scénario (hypothétique)')));
  }
  const kind = ctx.meta.kind(p.kind);
  const tel = phone(p.telephone);
  const partial = p.liste_partielle === true || p.liste_partielle === 'true';
  const note = positionNote(p.position);
  const communeName = p.commune ? ctx.communeName(p.commune) : null;
  const former = communeName && communeName !== p.commune ? formerCommune(p.nom, communeName) : null;
  const content = h('div', { class: 'popup-body' },
    h('h2', { class: 'popup-title' }, displayName(p.nom) ?? 'Structure sans nom'),
    h('p', { class: 'sub kindline' }, symbolImg(p.kind),
      kind?.title ?? p.kind, partial ? [' ', partialBadge()] : null),
    h('dl', { class: 'facts' },
      p.adresse ? [h('dt', null, 'Adresse'), h('dd', null, displayAddress(p.adresse))] : [h('dt', null, 'Adresse'), h('dd', { class: 'muted' }, 'inconnue')],
      p.commune ? [h('dt', null, 'Commune'), h('dd', null, `${ctx.communeName(p.commune)} (${p.commune})`)] : null,
      [h('dt', null, 'Téléphone'), h('dd', null, tel ? (tel.href ? h('a', { href: tel.href }, tel.text) : tel.text) : h('span', { class: 'muted' }, 'inconnu'))],
      p.capacite != null ? [h('dt', null, 'Capacité'), h('dd', null, `${int(Number(p.capacite))} places`)] : null,
      p.categorie_libelle ? [h('dt', null, 'Catégorie'), h('dd', null, p.categorie_libelle)] : null,
      p.finess ? [h('dt', null, 'FINESS'), h('dd', null, p.finess)] : null,
      [h('dt', null, 'Source'), h('dd', null, sourceTitle(ctx, p.source))]),
    former ? h('p', { class: 'note former-commune' }, formerCommuneText(former, communeName)) : null,
    note ? h('p', { class: 'note' }, `Position : ${note}.`) : null,
    partial ? h('p', { class: 'note' }, 'Cette structure vient d’une liste partielle : d’autres structures du même type peuvent manquer.') : null,
    // A structure placed at its commune's chef-lieu covers the commune under the pointer:
    // the way to the commune's own popup.
    p.commune ? h('div', { class: 'popup-actions' },
      h('button', { type: 'button', class: 'small secondary', onclick: () => ctx.popupCommune({ properties: { code: p.commune } }, coords) },
        `La commune : ${ctx.communeName(p.commune)}`)) : null);
  return open(ctx, coords, content);
}

/**
 * Popup of a structure of a planner's list (layers.js): the list's own words (its capacity
 * is what the planner counted: professionals or places), and whose list it is.
 */
export function listedPopup(ctx, feature, list) {
  const p = feature.properties;
  const coords = feature.geometry.coordinates;
  const kind = ctx.meta.kind(p.kind);
  const tel = phone(p.phone);
  const content = h('div', { class: 'popup-body' },
    h('h2', { class: 'popup-title' }, displayName(p.name) ?? 'Structure sans nom'),
    h('p', { class: 'sub kindline' }, h('span', { class: 'list-swatch', 'aria-hidden': 'true' }),
      h('span', { class: 'kindtext' }, `${kind?.title ?? p.kind} — liste « ${list.name} »`)),
    h('dl', { class: 'facts' },
      [h('dt', null, 'Adresse'), p.address ? h('dd', null, displayAddress(p.address)) : h('dd', { class: 'muted' }, 'inconnue')],
      p.commune ? [h('dt', null, 'Commune'), h('dd', null, `${p.commune_nom ?? ctx.communeName(p.commune)} (${p.commune})`)] : null,
      [h('dt', null, 'Téléphone'), h('dd', null, tel ? (tel.href ? h('a', { href: tel.href }, tel.text) : tel.text) : h('span', { class: 'muted' }, 'inconnu'))],
      p.capacity != null ? [h('dt', null, 'Capacité'), h('dd', null, int(Number(p.capacity)))] : null,
      [h('dt', null, 'Source'), h('dd', null, list.legend ?? `liste « ${list.name} »`)]),
    p.position === 'commune' ? h('p', { class: 'note' }, 'Position : placée au chef-lieu de sa commune (la liste ne donne pas de coordonnées).') : null,
    h('p', { class: 'note' }, 'Structure d’une liste fournie par un planificateur, montrée à part des données officielles.'));
  return open(ctx, coords, content);
}

function sourceTitle(ctx, id) {
  const s = ctx.meta.dataset.sources?.find((x) => x.id === id);
  return s ? `${s.title} (${s.vintage})` : id ?? '—';
}
