// Saved scenarios: « Enregistrer » keeps the scenario of the Scénario view on the service
// (POST /saved-scenarios, with an access token kept in this browser's localStorage), and
// « Partager » copies a link …/#scenario=<id> that opens the same scenario again, for
// anyone, without a token (GET /saved-scenarios/<id>).

import { h, fill } from './ui.js';

const TOKEN_KEY = 'careaccess.jeton';

/** The id of a shared link (#scenario=<id>): read before the router rewrites the address. */
export function sharedScenarioId() {
  const m = /^#scenario=([0-9a-z]+)$/i.exec(location.hash);
  return m ? m[1] : null;
}

async function call(path, { method = 'GET', body, token } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: {
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw Object.assign(new Error(`le service ne répond pas (${e.message})`), { status: 0 });
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(data?.detail ?? `statut ${res.status}`), { status: res.status });
  return data;
}

/** A saved scenario: its request, the result as saved and, if the data changed, today's. */
export function loadSaved(id) {
  return call(`/saved-scenarios/${encodeURIComponent(id)}`);
}

/**
 * The « Enregistrer » and « Partager » buttons. `request()` gives the body of the scenario
 * shown (as for POST /scenarios), or null when there is nothing to save. `forget()` is
 * called when the scenario changes: the next « Partager » saves it again.
 */
export function savedControls({ request }) {
  const status = h('p', { class: 'saved-status', id: 'scenario-saved-status', role: 'status', 'aria-live': 'polite' });
  let saved = null;

  async function save() {
    const body = request();
    if (!body) {
      status.textContent = 'Ajoutez ou retirez d’abord une structure : il n’y a rien à enregistrer.';
      return null;
    }
    const name = window.prompt('Nom du scénario (il apparaîtra dans la liste et sur le lien partagé) :', '');
    if (name == null) return null;
    if (!name.trim()) {
      status.textContent = 'Il faut un nom pour enregistrer le scénario.';
      return null;
    }
    let token = localStorage.getItem(TOKEN_KEY);
    if (!token) {
      token = window.prompt('Jeton d’accès (fourni par l’administrateur du service) :', '')?.trim();
      if (!token) {
        status.textContent = 'Enregistrement annulé : il faut un jeton d’accès pour enregistrer.';
        return null;
      }
    }
    status.textContent = 'Enregistrement…';
    try {
      saved = await call('/saved-scenarios', { method: 'POST', body: { name: name.trim(), ...body }, token });
      localStorage.setItem(TOKEN_KEY, token);
      status.textContent = `Scénario « ${saved.name} » enregistré.`;
      return saved;
    } catch (e) {
      if (e.status === 401) localStorage.removeItem(TOKEN_KEY);
      status.textContent = e.status === 401
        ? `Jeton refusé (${e.message}). Il vous sera redemandé au prochain essai.`
        : `Le scénario n’a pas été enregistré : ${e.message}`;
      return null;
    }
  }

  async function share() {
    const s = saved ?? await save();
    if (!s) return;
    const link = `${location.origin}${location.pathname}#scenario=${s.id}`;
    try {
      await navigator.clipboard.writeText(link);
      fill(status, 'Lien copié dans le presse-papiers : ', h('a', { href: link }, link));
    } catch {
      fill(status, 'Copiez ce lien pour partager le scénario : ', h('a', { href: link }, link));
    }
  }

  const el = h('div', { class: 'saved-actions' },
    h('button', { type: 'button', class: 'secondary', id: 'scenario-save', onclick: save }, 'Enregistrer'),
    ' ',
    h('button', { type: 'button', class: 'secondary', id: 'scenario-share', onclick: share }, 'Partager'),
    status);
  return {
    el,
    forget() { saved = null; },
    /** Says which saved scenario is shown (opened from a link). */
    opened(s) {
      saved = s;
      const note = s.current?.note;
      fill(status, `Scénario enregistré « ${s.name} »`, s.owner_name ? ` (par ${s.owner_name}, le ${s.created_at.slice(0, 10).split('-').reverse().join('/')})` : '', '.',
        note ? [' ', h('strong', null, note)] : null);
    },
  };
}
