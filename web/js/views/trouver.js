// View 3 — Trouver une structure (citizens): a commune name or a click on the map →
// the nearest structures of each kind with distance, estimated time, address and phone,
// drawn on the map (its own overlays: origin, lines, rings, the commune; and a hint).

import { api, qs, isAbort } from '../api.js';
import { h, fill, errorBox, loading, searchBox, countSelect, partialBadge, announcer, revealResult, revealMap, CLICK } from '../ui.js';
import { km, kmFromM, minutes, phone, habitants, num, int, capital, displayName, displayAddress } from '../format.js';
import { formerCommune, formerCommuneText } from '../labels.js';
import { positionNote } from '../meta.js';
import { symbolImg } from '../map.js';

const FAR_M = 100_000;
const NO_RESULT = { marks: null, origin: null, links: null, rings: null };

export function createTrouver(ctx, root) {
  const { mapCtl, meta } = ctx;
  const overlays = mapCtl.overlays('trouver');
  let last = null; // {params, data, label}
  let controller = null;

  const search = searchBox({
    label: 'Votre commune',
    placeholder: 'ex. Thouars',
    hint: `Tapez le nom (accents facultatifs), puis choisissez dans la liste. Ou bien : ${CLICK.toLowerCase()} la carte.`,
    source: async (q, signal) => {
      const r = await api(`/search${qs({ q, type: 'commune', limit: 8 })}`, { signal });
      return r.results.map((x) => ({
        label: x.nom,
        detail: `${depName(x.departement)} · ${habitants(x.population)}`,
        value: x,
      }));
    },
    onPick: (x) => ctx.go('trouver', [x.code]),
  });
  const kSel = countSelect({
    label: 'Structures par type',
    counts: [1, 3, 5, 10],
    max: meta.limits.nearestK,
    preferred: 3,
    onChange: (n) => { k = n; if (last) run(last.params, last.label, { reveal: false, position: last.label?.startsWith('Position') }); },
  });
  let k = Number(kSel.select.value);
  const geoBtn = 'geolocation' in navigator
    ? h('button', { type: 'button', class: 'secondary', onclick: locate }, 'Utiliser ma position')
    : null;
  const result = h('div', { class: 'result', id: 'nearest-result' });
  const say = announcer();

  fill(root,
    h('h2', null, 'Trouver une structure'),
    h('p', { class: 'intro' }, `Les ${listWords(meta.kinds.filter((x) => x.available).map((x) => x.plural))} les plus proches d’une commune ou d’un point de la carte, avec la distance et le temps de trajet estimé.`),
    search.el,
    h('div', { class: 'row' }, kSel.el, geoBtn),
    say.el,
    result);

  function depName(code) {
    const r = ctx.table?.rows.find((x) => x.departement === code);
    return r?.departement_nom ? `${r.departement_nom} (${code})` : `département ${code}`;
  }

  let located = null; // the `@lon,lat` argument of the last « Utiliser ma position »

  function locate() {
    fill(result, loading('Recherche de votre position…'));
    navigator.geolocation.getCurrentPosition(
      (p) => {
        located = `@${p.coords.longitude.toFixed(5)},${p.coords.latitude.toFixed(5)}`;
        ctx.go('trouver', [located]);
      },
      (e) => fill(result, errorBox(`Position indisponible : ${e.message || 'refusée ou introuvable'}. Tapez plutôt le nom de votre commune.`)),
      { timeout: 10000 });
  }

  async function run(params, label, { reveal = true, position = false } = {}) {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    result.setAttribute('aria-busy', 'true');
    overlays.set(NO_RESULT);
    fill(result, loading('Recherche des structures les plus proches…'));
    try {
      const data = await api(`/nearest${qs({ ...params, k })}`, { signal });
      // From a point: the commune it lies in names it (« Position : Thouars (79329) »).
      const where = data.from?.commune ? null : await communeAt(data.from.lon, data.from.lat, signal).catch(() => null);
      if (signal.aborted) return;
      if (where) label = position ? `Position : ${where.nom} (${where.code})` : `${where.nom} (${where.code})`;
      else if (position) label = 'Votre position';
      last = { params, data, label };
      render(data, label);
      draw(data);
      if (reveal) revealResult(result.querySelector('h3'));
      // Commune names come from the commune table: once it is there, name them.
      if (!ctx.table) ctx.tableReady.then(() => { if (last?.data === data) render(data, label, { quiet: true }); }).catch(() => {});
    } catch (e) {
      if (isAbort(e)) return;
      fill(result, errorBox(e, {
        404: params.commune ? `aucune commune n’a le code « ${params.commune} ».` : 'aucune structure trouvée depuis ce point.',
        400: params.commune ? `« ${params.commune} » n’est pas un code de commune.` : 'ce point est hors de la France couverte par les données.',
      }));
    } finally {
      if (!signal.aborted) result.removeAttribute('aria-busy');
    }
  }

  /** The commune whose outline holds a point (the service's communes by a tiny box). */
  async function communeAt(lon, lat, signal) {
    const d = 1e-5;
    const fc = await api(`/collections/communes/items${qs({ bbox: [lon - d, lat - d, lon + d, lat + d].map((x) => x.toFixed(6)), limit: 5 })}`, { signal });
    const feats = fc.features ?? [];
    const f = feats.find((x) => inside(x.geometry, lon, lat)) ?? (feats.length === 1 ? feats[0] : null);
    return f ? { code: f.properties.code, nom: f.properties.nom } : null;
  }

  function fromLabel(data, label) {
    const c = data.from?.commune;
    if (c) { search.set(c.nom); return `${c.nom} (${c.code})`; }
    const lat = data.from.lat;
    const lon = data.from.lon;
    const pos = `${num(Math.abs(lat), 4)}° ${lat >= 0 ? 'N' : 'S'}, ${num(Math.abs(lon), 4)}° ${lon >= 0 ? 'E' : 'O'}`;
    if (label?.startsWith('Position')) return label;
    return label ? `${label} (point ${pos})` : `le point ${pos}`;
  }

  function render(data, label, { quiet = false } = {}) {
    const byKind = new Map(data.results.map((r) => [r.kind, r]));
    const sections = meta.kinds.map((kind) => {
      const r = byKind.get(kind.id);
      const head = h('h4', { class: 'kind-head' }, symbolImg(kind.id),
        h('span', null, r?.label ?? kind.title, r?.liste_partielle || kind.partial ? [' ', partialBadge()] : null));
      if (!r) {
        return h('section', { class: 'kind-result unavailable', 'aria-label': kind.title }, head,
          h('p', { class: 'muted' }, `Pas de données : ${kind.reason ?? 'le service ne donne pas encore les structures les plus proches de ce type'}.`));
      }
      const outside = r.hors_couverture === true;
      // Not covered: the list does not speak here; what it lists is only the nearest it knows.
      const outsideBox = outside
        ? h('div', { class: 'caveat strong out-of-scope', role: 'note' },
          h('p', null, h('strong', null, `Non couvert : la liste des ${kind.plural} ne couvre pas ce département.`)),
          r.structures.length ? h('p', null, 'Les structures ci-dessous sont les plus proches que la liste connaît ; d’autres peuvent exister plus près.') : null,
          r.caveat && !/^non couvert/i.test(r.caveat) ? h('p', { class: 'small' }, `${capital(r.caveat)}.`) : null)
        : null;
      return h('section', { class: `kind-result${outside ? ' outside' : ''}`, 'aria-label': r.label, dataset: { kind: r.kind, horsCouverture: outside ? 'true' : 'false' } }, head,
        outsideBox,
        !outside && r.caveat ? h('p', { class: 'caveat' }, capital(r.caveat), '.') : null,
        r.structures.length
          ? h('ol', { class: 'structures' }, r.structures.map((s) => structureItem(s, outside)))
          : h('p', { class: 'no-road' }, h('strong', null, 'Aucune structure accessible par la route'),
            ` : ${outside ? 'la liste ne connaît' : 'les données ne comptent'} pas ${kind.a.replace(/^une? /, 'de ').replace(/^de ([aeéèêiîoôuh])/i, "d'$1")} dans la zone reliée par la route à ce point (île ou outre-mer).`));
    });
    const from = fromLabel(data, label);
    const firsts = data.results.map((r) => {
      const kind = meta.kind(r.kind);
      const first = r.structures[0];
      const name = kind ? capital(kind.nearest) : r.label;
      if (!first) return `${name} : ${r.hors_couverture ? 'non couvert par la liste, ' : ''}aucune structure accessible par la route`;
      return `${name}${r.hors_couverture ? ' (non couvert par la liste, une plus proche peut exister)' : ''} : ${displayName(first.nom)}, ${kmFromM(first.distance_m)}`;
    });
    if (!quiet) say.say(`Résultats depuis ${from}. ${firsts.join('. ')}.`);
    fill(result,
      h('h3', { id: 'nearest-heading', tabindex: '-1' }, from.startsWith('Position') ? from : `Depuis ${from}`),
      h('p', { class: 'note' }, "Distance à vol d'oiseau ; kilomètres par la route et temps en voiture estimés à partir de cette distance (pas un calcul d'itinéraire, heures creuses)."),
      sections);
  }

  function structureItem(s, outside) {
    const tel = phone(s.telephone);
    const name = displayName(s.nom) ?? 'Structure sans nom';
    const communeName = s.commune ? s.commune_nom ?? ctx.communeName(s.commune) : null;
    const former = communeName && communeName !== s.commune ? formerCommune(s.nom, communeName) : null;
    const note = positionNote(s.position);
    const far = s.distance_m > FAR_M && !outside;
    return h('li', { class: 'structure', dataset: { id: s.id } },
      h('p', { class: 'name' }, h('strong', null, name)),
      s.distance_m < 50 && s.position === 'commune_chef_lieu'
        ? h('p', { class: 'dist' }, h('span', { class: 'km' }, 'Dans la commune'))
        : h('p', { class: 'dist' },
          h('span', { class: 'km' }, `${kmFromM(s.distance_m)} à vol d'oiseau`),
          ' · ', h('span', { class: 'min' }, `environ ${minutes(s.car_min)} en voiture`),
          s.road_km != null ? ` (${km(s.road_km)} par la route, estimé)` : ''),
      far ? h('p', { class: 'caveat' }, "Très loin : la liste de ce type ne couvre sans doute pas votre territoire.") : null,
      h('p', { class: 'addr' }, displayAddress(s.adresse) ?? h('span', { class: 'muted' }, 'Adresse inconnue'),
        communeName ? ` — ${communeName}` : ''),
      former ? h('p', { class: 'note former-commune' }, formerCommuneText(former, communeName)) : null,
      tel ? h('p', { class: 'tel' }, 'Tél. ', tel.href ? h('a', { href: tel.href }, tel.text) : tel.text) : null,
      s.capacite != null ? h('p', { class: 'muted' }, `${int(s.capacite)} places`) : null,
      s.categorie_libelle ?? s.categorie ? h('p', { class: 'muted' }, s.categorie_libelle ?? s.categorie) : null,
      note ? h('p', { class: 'note' }, `Position ${note}.`) : null,
      // Nine « Voir sur la carte » in a row: each names its structure for a screen reader.
      h('button', { type: 'button', class: 'linkish show-on-map', 'aria-label': `Voir sur la carte : ${name}`, onclick: () => showOnMap(s) }, 'Voir sur la carte'));
  }

  function showOnMap(s) {
    // On a phone the map is above the panel, off screen: bring it into view first.
    revealMap();
    mapCtl.flyTo([s.lon, s.lat], 13);
    mapCtl.map.once('moveend', () => ctx.popupFacility({ geometry: { coordinates: [s.lon, s.lat] }, properties: { ...s, liste_partielle: s.liste_partielle } }));
  }

  function draw(data) {
    if (ctx.view !== 'trouver') return;
    const o = [data.from.lon, data.from.lat];
    const code = data.from?.commune?.code;
    const lines = [];
    const rings = [];
    const fit = [o];
    for (const r of data.results) {
      for (const s of r.structures) {
        if (s.distance_m > FAR_M * 3) continue;
        lines.push({ from: o, to: [s.lon, s.lat], w: s.rank === 1 ? 3 : 1.5 });
        if (s.rank === 1) rings.push([s.lon, s.lat]);
        if (s.distance_m <= FAR_M / 2) fit.push([s.lon, s.lat]);
      }
    }
    overlays.set({ marks: code ? [[code, 'selected']] : null, origin: o, links: lines, rings });
    mapCtl.fitPoints(fit, { maxZoom: 12 });
  }

  // A click on the map in this view: the nearest structures from that point.
  mapCtl.onClick(({ lngLat, commune, facility }) => {
    if (ctx.view !== 'trouver' || facility) return false;
    const label = commune?.properties?.nom ?? null; // else named from the service's communes
    const arg = `@${lngLat.lng.toFixed(5)},${lngLat.lat.toFixed(5)}`;
    history.replaceState(null, '', `#trouver/${encodeURIComponent(arg)}`);
    run({ lon: lngLat.lng.toFixed(5), lat: lngLat.lat.toFixed(5) }, label);
    return true;
  });

  return {
    show(args) {
      overlays.set({ hint: `${CLICK} la carte pour chercher depuis un point.` });
      const a = args[0];
      if (a && a.startsWith('@')) {
        const [lon, lat] = a.slice(1).split(',').map(Number);
        if (Number.isFinite(lon) && Number.isFinite(lat) && !(last && last.params.lon === String(lon) && last.params.lat === String(lat))) {
          run({ lon: String(lon), lat: String(lat) }, undefined, { position: a === located });
          return;
        }
      } else if (a && !(last && last.params.commune === a)) {
        run({ commune: a });
        return;
      }
      if (last) draw(last.data);
    },
    hide() { overlays.clear(); },
  };
}

/** "a, b et c". */
function listWords(words) {
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} et ${words.at(-1)}` : words[0] ?? 'structures';
}

/** Whether a (Multi)Polygon holds a point (even-odd rule on every ring). */
function inside(geom, x, y) {
  const polys = geom?.type === 'Polygon' ? [geom.coordinates] : geom?.type === 'MultiPolygon' ? geom.coordinates : [];
  let odd = false;
  for (const rings of polys) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) odd = !odd;
      }
    }
  }
  return odd;
}
