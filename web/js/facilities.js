// The structure layers on the map: which kinds are shown (the store's `facilities`, kept
// in localStorage), each kind's points loaded once, and the dense kinds loaded only after
// the communes, which share MapLibre's worker. Carte's toggles and the scenario use it.

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

  // The shown kinds load in the background, in order; the dense ones wait for the communes.
  (async () => {
    for (const k of meta.kinds) {
      if (!k.available || !shown().has(k.id)) continue;
      if (facilityMinzoom(k)) await new Promise((r) => mapCtl.whenCommunesLoaded(r));
      await apply(k);
    }
  })();

  return { show, isShown: (kindId) => shown().has(kindId) };
}
