// A tiny shared store: named values one part of the page publishes and others read or
// watch, so that views never reach into each other. Keys in use: `territory` (the one
// shown in Territoire, {type, code, nom} or null; the scenario looks at it by default), `facilities` (Set of structure kinds
// shown on the map), `facilityStatus` (their loading: null, {loading: kind} or {error}) and
// `facilitiesChoice` (the structures the analyses use: « Mes listes », layers.js).

export function createStore(initial = {}) {
  const values = new Map(Object.entries(initial));
  const listeners = new Map();
  return {
    get: (key) => values.get(key),
    /** Sets a value and tells its watchers (nothing happens when it is the same value). */
    set(key, value) {
      if (values.get(key) === value) return;
      values.set(key, value);
      for (const fn of listeners.get(key) ?? []) fn(value);
    },
    /** Calls fn(value) on each change of key; returns a function that stops it. */
    subscribe(key, fn) {
      if (!listeners.has(key)) listeners.set(key, new Set());
      listeners.get(key).add(fn);
      return () => listeners.get(key).delete(fn);
    },
  };
}
