// The structure layers on the map: which kinds are shown (the store's `facilities`, kept
// in localStorage), each kind's points loaded once, and the dense kinds loaded only after
// the communes (which share MapLibre's worker) and near the zoom they are drawn at.
// Carte's toggles and the scenario use it.

import { loadFacilities } from './meta.js';
import { facilityMinzoom } from './map.js';

const KEY = 'careaccess.structures';
const DEFAULT_SHOWN = ['msp', 'ehpad', 'hospital'];

export function createFacilityLayers({ mapCtl, meta, store }) {
  const loading = new Map(); // kind → promise of its points on the map
  const shown = () => store.get('facilities');
  let stored = null;
  try { stored = JSON.parse(localStorage.getItem(KEY) ?? 'null'); } catch { /* kept value unreadable: defaults */ }
  store.set('facilities', new Set(Array.isArray(stored) ? stored : DEFAULT_SHOWN));
  store.set('facilityStatus', null);

  function ensureLoaded(k) {
    if (!loading.has(k.id)) {
      loading.set(k.id, (async () => {
        store.set('facilityStatus', { loading: k });
        try {
          mapCtl.setFacilities(k.id, await loadFacilities(k.id), { minzoom: facilityMinzoom(k) });
          store.set('facilityStatus', null);
        } catch (e) {
          loading.delete(k.id); // a later toggle tries again
          store.set('facilityStatus', { error: e });
        }
      })());
    }
    return loading.get(k.id);
  }

  async function apply(k) {
    if (shown().has(k.id)) await ensureLoaded(k);
    mapCtl.setFacilityVisible(k.id, shown().has(k.id));
  }

  /** Shows (or hides, with on = false) the structures of a kind on the map. */
  function show(kindId, on = true) {
    const k = meta.kind(kindId);
    if (!k?.available || shown().has(kindId) === on) return;
    const next = new Set(shown());
    if (on) next.add(kindId); else next.delete(kindId);
    localStorage.setItem(KEY, JSON.stringify([...next]));
    store.set('facilities', next);
    apply(k);
  }

  // The shown kinds load in the background: the sparse ones at once, the dense ones
  // (drawn only from a département's scale) after the communes and once the map zooms
  // near the scale they are drawn at — not for the national view, which does not show them.
  for (const k of meta.kinds) {
    if (!k.available || !shown().has(k.id)) continue;
    const minzoom = facilityMinzoom(k);
    if (!minzoom) { apply(k); continue; }
    new Promise((r) => mapCtl.whenCommunesLoaded(r))
      .then(() => mapCtl.zoomReaches(minzoom - 1))
      .then(() => { if (shown().has(k.id)) apply(k); });
  }

  return { show, isShown: (kindId) => shown().has(kindId) };
}
