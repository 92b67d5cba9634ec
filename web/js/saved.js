// Saved work: the access token of this browser (« Se connecter avec un jeton »), the
// dialogs that ask for it and for a name (accessible <dialog>s, never window.prompt), the
// French words for each refusal of the service, « Enregistrer » / « Partager » of the
// Scénario view (POST /saved-scenarios; a link …/#scenario=<id> opens it again for anyone,
// without a token) and « Mes scénarios » (list, open, rename, delete) for the token's owner.
// perimeters.js uses the same token, dialogs and messages.

import { h, fill, newId } from './ui.js';
import { ApiError } from './api.js';

const TOKEN_KEY = 'careaccess.jeton';
const listeners = new Set();

/* ---------------------------------------------------------------- the token */

/** The token kept in this browser, or null. */
export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || null; } catch { return null; }
}
function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: the token lasts for this page only */ }
  memo = t;
  for (const fn of listeners) fn(t);
}
let memo = null;
const current = () => token() ?? memo;
/** Forgets the token (the service refused it). */
export function forgetToken() { setToken(null); }
/** Calls fn(token) whenever the token is entered or forgotten; returns the unsubscriber. */
export function onToken(fn) { listeners.add(fn); return () => listeners.delete(fn); }

/* ---------------------------------------------------------------- calls */

/** The id of a shared link (#scenario=<id>): read before the router rewrites the address. */
export function sharedScenarioId() {
  const m = /^#scenario=([0-9a-z]+)$/i.exec(location.hash);
  return m ? m[1] : null;
}

/**
 * A call to the saved-work routes, with the token when there is one (`auth: 'none'` never
 * sends it). Refusals come back as an ApiError (status, detail) for errorBox/savedError.
 */
export async function call(path, { method = 'GET', body, auth = 'auto', signal, key } = {}) {
  const t = auth === 'none' ? null : current();
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: {
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(t ? { Authorization: `Bearer ${t}` } : {}),
        ...(key ? { 'Idempotency-Key': key } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`Le service careaccess ne répond pas (${e.message}).`, { status: 0 });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const detail = data?.detail ?? data?.title ?? '';
    // A refused token is forgotten: it would be refused again.
    if (res.status === 401 && t) setToken(null);
    throw new ApiError(`Erreur du service (statut ${res.status}) : ${detail}`, { status: res.status, title: data?.title ?? res.statusText, detail });
  }
  return data;
}

/**
 * A random key naming one write, so that it may be sent again (by nginx, when the server
 * that had it died) and be saved once. crypto.getRandomValues works on plain http too.
 */
function writeKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A saved scenario: its request, the result as saved and, if the data changed, today's. */
export function loadSaved(id) {
  return call(`/saved-scenarios/${encodeURIComponent(id)}`, { auth: 'none' });
}

/* ---------------------------------------------------------------- messages */

/** What a refusal of the saved-work routes means for the user, in French. */
export function refusal(e, what = 'l’enregistrement') {
  switch (e?.status) {
    case 0: return `Le service ne répond pas : ${what} n’a pas été fait. Vérifiez la connexion et réessayez.`;
    case 401: return 'Jeton refusé : il est inconnu ou a été révoqué. Connectez-vous avec un jeton valable (fourni par l’administrateur du service).';
    case 403: return 'Cet objet a été créé par quelqu’un d’autre : seul son auteur (ou un administrateur) peut le modifier.';
    case 404: return 'Introuvable : cet objet a peut-être été supprimé.';
    case 413: return 'La demande est trop volumineuse (trop de communes ou de changements).';
    case 422: return `La demande est refusée : ${unprocessable(e.detail)}`;
    case 400: return 'La demande est mal formée.';
    case 429: return 'Trop de demandes en peu de temps : patientez une minute et réessayez.';
    case 503: return 'Ce service n’enregistre rien : il fonctionne sans base de travaux enregistrés (demandez à son administrateur).';
    default: return `${what} a échoué (erreur du service) ; réessayez plus tard.`;
  }
}
/** The 422s a planner can meet, in French (the service's words stay under « Détail technique »). */
function unprocessable(detail = '') {
  if (/`name`.*(required|empty)/.test(detail)) return 'il faut un nom.';
  if (/`name`.*longer/.test(detail)) return 'le nom est trop long (200 caractères au plus).';
  if (/`communes`.*not communes/.test(detail)) return 'certains codes ne sont pas des communes des données (voir le détail).';
  if (/`communes`.*at most/.test(detail)) return 'trop de communes (5 000 au plus).';
  if (/no commune/.test(detail)) return 'aucune commune n’a son chef-lieu dans ce périmètre.';
  if (/`geometry`/.test(detail)) return 'le polygone dessiné n’est pas valable (au moins trois points, sans croisement).';
  if (/`communes`/.test(detail)) return 'il faut une liste de communes ou un polygone dessiné.';
  return 'une valeur n’est pas acceptée (voir le détail).';
}

/** An error box: the French sentence, and the service's own words folded. */
export function savedError(e, what) {
  const detail = e?.detail ?? '';
  return h('div', { class: 'error', role: 'alert' },
    h('p', null, refusal(e, what)),
    detail ? h('details', { class: 'tech' }, h('summary', null, 'Détail technique'),
      h('p', null, h('code', { lang: 'en' }, `${e.status ?? ''} ${e.title ?? ''} — ${detail}`.trim()))) : null);
}

/* ---------------------------------------------------------------- dialogs */

/**
 * A modal form in a <dialog>: labelled, focus on the first field, Escape or « Annuler »
 * close it (resolves null), the focus goes back where it was. `fields`: [{name, label,
 * type, value, hint, required}]. `check(values)` may return an error sentence (shown in
 * the dialog, which stays open) or throw an ApiError (shown with savedError).
 */
export function formDialog({ id, title, intro, fields, submit, check }) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const titleId = newId('dlg');
    const err = h('div', { class: 'dialog-error', 'aria-live': 'assertive' });
    const inputs = fields.map((f) => {
      const fid = newId('f');
      const input = f.type === 'checkbox'
        ? h('input', { type: 'checkbox', id: fid, name: f.name, checked: !!f.value })
        : h('input', { type: f.type ?? 'text', id: fid, name: f.name, value: f.value ?? '', autocomplete: 'off', spellcheck: 'false', required: !!f.required, 'aria-describedby': f.hint ? `${fid}-hint` : null, maxlength: f.maxlength ?? null });
      const field = f.type === 'checkbox'
        ? h('div', { class: 'field check' }, input, h('label', { for: fid }, f.label), f.hint ? h('p', { class: 'hint', id: `${fid}-hint` }, f.hint) : null)
        : h('div', { class: 'field' }, h('label', { for: fid }, f.label), input, f.hint ? h('p', { class: 'hint', id: `${fid}-hint` }, f.hint) : null);
      return { f, input, field };
    });
    const ok = h('button', { type: 'submit', value: 'ok', id: id ? `${id}-ok` : null }, submit);
    const form = h('form', { method: 'dialog', novalidate: true },
      h('h2', { id: titleId }, title),
      intro ? h('p', null, intro) : null,
      inputs.map((x) => x.field),
      err,
      h('div', { class: 'buttons' }, ok,
        h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close('cancel') }, 'Annuler')));
    const dlg = h('dialog', { id, class: 'saved-dialog', 'aria-labelledby': titleId }, form);
    let result = null;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(inputs.map(({ f, input }) => [f.name, f.type === 'checkbox' ? input.checked : input.value.trim()]));
      const empty = inputs.find(({ f }) => f.required && !values[f.name]);
      if (empty) {
        fill(err, h('p', { class: 'error', role: 'alert' }, `Le champ « ${empty.f.label} » est vide.`));
        empty.input.focus();
        return;
      }
      if (check) {
        ok.disabled = true;
        fill(err, h('p', { class: 'muted' }, 'Vérification…'));
        try {
          const problem = await check(values);
          if (problem) { fill(err, h('p', { class: 'error', role: 'alert' }, problem)); (inputs[0]?.input ?? ok).focus(); return; }
        } catch (ex) {
          fill(err, savedError(ex));
          (inputs[0]?.input ?? ok).focus();
          return;
        } finally {
          ok.disabled = false;
        }
      }
      result = values;
      dlg.close('ok');
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (before?.isConnected) before.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    inputs[0]?.input.focus();
    if (!inputs.length) ok.focus();
  });
}

/** Asks for the token and checks it with the service; resolves true once one is kept. */
export async function login() {
  const v = await formDialog({
    id: 'token-dialog',
    title: 'Se connecter avec un jeton',
    intro: 'Enregistrer ou modifier des scénarios, des périmètres et des listes de structures demande un jeton d’accès, fourni par l’administrateur du service (careaccess tokens create). Il est retenu dans ce navigateur jusqu’à « Oublier le jeton ». Lire et ouvrir un lien partagé n’en demande pas.',
    fields: [{ name: 'token', label: 'Jeton d’accès', type: 'password', required: true, hint: 'Collez le jeton tel qu’il vous a été remis (il commence par « ca_ »).' }],
    submit: 'Se connecter',
    check: async ({ token: t }) => {
      const res = await fetch('/saved-scenarios', { headers: { Accept: 'application/json', Authorization: `Bearer ${t}` } })
        .catch((e) => { throw new ApiError(e.message, { status: 0 }); });
      if (res.ok) return null;
      const p = await res.json().catch(() => null);
      throw new ApiError('', { status: res.status, title: p?.title ?? '', detail: p?.detail ?? '' });
    },
  });
  if (!v) return false;
  setToken(v.token);
  return true;
}

/** The token, asked for first when there is none; null if the user cancels. */
export async function ensureToken() {
  if (current()) return current();
  return (await login()) ? current() : null;
}

/** « Se connecter avec un jeton » / « Connecté · Oublier le jeton », kept up to date. */
export function accountBar() {
  const el = h('div', { class: 'account', role: 'group', 'aria-label': 'Jeton d’accès' });
  const render = () => fill(el, current()
    ? [h('span', { class: 'badge ok' }, 'Connecté avec un jeton'), ' ',
      h('button', { type: 'button', class: 'linkish', onclick: () => setToken(null) }, 'Oublier le jeton')]
    : h('button', { type: 'button', class: 'secondary small', onclick: () => login() }, 'Se connecter avec un jeton'));
  render();
  onToken(render);
  return el;
}

const date = (iso) => (iso ? iso.slice(0, 10).split('-').reverse().join('/') : '');
const time = (iso) => (iso ? `${date(iso)} à ${iso.slice(11, 16).replace(':', ' h ')} UTC` : '');

/* ---------------------------------------------------------------- scenarios */

/**
 * The « Enregistrer » and « Partager » buttons and « Mes scénarios ». `request()` gives
 * the body of the scenario shown (as for POST /scenarios), or null when there is nothing
 * to save; `open(id)` opens a saved scenario in the view. `forget()` is called when the
 * scenario changes: the next « Partager » saves it again.
 */
export function savedControls({ request, open }) {
  const status = h('div', { class: 'saved-status', id: 'scenario-saved-status', role: 'status', 'aria-live': 'polite' });
  let saved = null;

  async function save() {
    const body = request();
    if (!body) {
      fill(status, 'Ajoutez ou retirez d’abord une structure : il n’y a rien à enregistrer.');
      return null;
    }
    if (!await ensureToken()) {
      fill(status, 'Enregistrement annulé : il faut un jeton d’accès pour enregistrer.');
      return null;
    }
    const v = await formDialog({
      id: 'scenario-name-dialog',
      title: 'Enregistrer le scénario',
      fields: [
        { name: 'name', label: 'Nom du scénario', required: true, maxlength: 200, hint: 'Il apparaît dans « Mes scénarios » et sur le lien partagé.' },
        { name: 'description', label: 'Description (facultative)', maxlength: 4000 },
      ],
      submit: 'Enregistrer',
    });
    if (!v) { fill(status, 'Enregistrement annulé.'); return null; }
    fill(status, 'Enregistrement…');
    try {
      saved = await call('/saved-scenarios', { method: 'POST', key: writeKey(), body: { name: v.name, ...(v.description ? { description: v.description } : {}), ...body } });
      fill(status, `Scénario « ${saved.name} » enregistré.`);
      list.refresh();
      return saved;
    } catch (e) {
      fill(status, savedError(e, 'l’enregistrement du scénario'));
      return null;
    }
  }

  async function share() {
    const s = saved ?? await save();
    if (!s) return;
    const link = `${location.origin}${location.pathname}#scenario=${s.id}`;
    try {
      await navigator.clipboard.writeText(link);
      fill(status, 'Lien copié dans le presse-papiers : ', h('a', { href: link, id: 'scenario-share-link' }, link));
    } catch {
      fill(status, 'Copiez ce lien pour partager le scénario : ', h('a', { href: link, id: 'scenario-share-link' }, link));
    }
  }

  const list = mine({
    id: 'my-scenarios',
    title: 'Mes scénarios',
    path: '/saved-scenarios',
    key: 'saved_scenarios',
    what: 'scénario',
    open: (s) => open(s.id),
  });

  const el = h('div', { class: 'saved-actions' },
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'secondary', id: 'scenario-save', onclick: save }, 'Enregistrer'),
      h('button', { type: 'button', class: 'secondary', id: 'scenario-share', onclick: share }, 'Partager')),
    status,
    list.el);
  return {
    el,
    forget() { saved = null; },
    /**
     * Says which saved scenario is shown (opened from a link): when, on which build, whether
     * today's data differs, and `structures` (the planner's list it used, in words).
     */
    opened(s, structures = null) {
      saved = s;
      const c = s.current;
      const strip = (r) => JSON.stringify({ ...r, build: undefined, notes: undefined });
      const same = c?.result ? strip(s.saved?.result) === strip(c.result) : undefined;
      fill(status, h('div', { class: 'opened', id: 'scenario-opened' },
        h('p', null, h('strong', null, `Scénario enregistré « ${s.name} »`),
          s.owner_name ? ` par ${s.owner_name}` : '', `, le ${time(s.created_at)}, sur les données ${s.saved?.build ?? '?'}.`),
        s.description ? h('p', { class: 'muted' }, s.description) : null,
        structures ? h('p', { id: 'scenario-opened-structures' }, structures) : null,
        !c
          ? h('p', { class: 'note' }, 'Les données servies sont celles de l’enregistrement : les chiffres sont ceux qui ont été montrés.')
          // Same data, but the planner's list it used changed since, or cannot be read here.
          : c.build === s.saved?.build
            ? h('p', { class: 'caveat', id: 'scenario-list-changed' }, c.result
              ? [h('strong', null, 'Sa liste de structures a été modifiée depuis : '), 'les chiffres ci-dessous sont calculés avec la liste d’aujourd’hui',
                same === false ? ' et diffèrent de ceux de l’enregistrement' : same === true ? ' et sont identiques à ceux de l’enregistrement' : '', '.']
              : [h('strong', null, 'Sa liste de structures n’est pas lisible ici '), '(liste privée de son auteur) : les chiffres ci-dessous sont ceux de l’enregistrement.'])
          : h('p', { class: 'caveat', id: 'scenario-data-changed' }, h('strong', null, 'Les données ont changé depuis : '),
            `les chiffres ci-dessous sont calculés sur les données d’aujourd’hui (${c.build})`,
            same === false ? ' et diffèrent de ceux de l’enregistrement' : same === true ? ' et sont identiques à ceux de l’enregistrement' : '',
            '. Le résultat enregistré reste consultable par l’API (', h('a', { href: s.url, target: '_blank', rel: 'noopener' }, 'résultat enregistré'), ').',
            c.error ? h('span', { class: 'unit-line' }, 'Ce scénario ne se recalcule pas sur les données actuelles.') : null)));
    },
  };
}

/**
 * « Mes … »: the list of the token's own objects with open, rename and delete; reloaded
 * when the token changes. Used for scenarios here and perimeters in perimeters.js.
 */
export function mine({ id, title, path, key, what, open, item, visible = (x) => x.may_change !== false, withoutToken = false }) {
  const body = h('div', { class: 'mine-body' });
  const el = h('section', { class: 'mine', id, 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title` }, title), accountBar(), body);
  let controller = null;

  async function refresh() {
    controller?.abort();
    if (!current() && !withoutToken) {
      fill(body, h('p', { class: 'muted' }, `Connectez-vous avec un jeton pour voir vos ${what}s enregistrés.`));
      return;
    }
    controller = new AbortController();
    body.setAttribute('aria-busy', 'true');
    try {
      const r = await call(path, { signal: controller.signal });
      render(r[key] ?? []);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 503) { fill(body, h('p', { class: 'muted' }, `Ce service n’enregistre rien : pas de ${what}s enregistrés.`)); return; }
      fill(body, savedError(e, 'la lecture de la liste'));
    } finally {
      body.removeAttribute('aria-busy');
    }
  }

  function render(list) {
    if (!list.length) { fill(body, h('p', { class: 'muted' }, `Aucun ${what} enregistré${current() ? '' : ' public'}.`)); return; }
    fill(body, h('ul', { class: 'mine-list' }, list.map((x) => h('li', { dataset: { id: x.id } },
      h('button', { type: 'button', class: 'linkish mine-open', onclick: () => open(x) }, x.name),
      h('span', { class: 'unit-line' }, item ? item(x) : '', `${item ? ' · ' : ''}${x.owner_name ? `${x.owner_name}, ` : ''}le ${date(x.created_at)}`),
      visible(x) && current()
        ? h('span', { class: 'mine-actions' },
          h('button', { type: 'button', class: 'linkish', 'aria-label': `Renommer « ${x.name} »`, onclick: () => rename(x) }, 'Renommer'), ' · ',
          h('button', { type: 'button', class: 'linkish danger', 'aria-label': `Supprimer « ${x.name} »`, onclick: () => remove(x) }, 'Supprimer'))
        : null))));
  }

  async function rename(x) {
    const v = await formDialog({
      id: `${id}-rename`,
      title: `Renommer le ${what}`,
      fields: [{ name: 'name', label: 'Nouveau nom', value: x.name, required: true, maxlength: 200 }],
      submit: 'Renommer',
      check: async ({ name }) => { await call(`${path}/${encodeURIComponent(x.id)}`, { method: 'PATCH', body: { name } }); return null; },
    });
    if (v) refresh();
  }

  async function remove(x) {
    const v = await formDialog({
      id: `${id}-delete`,
      title: `Supprimer le ${what} « ${x.name} » ?`,
      intro: 'Les liens partagés qui y mènent ne fonctionneront plus.',
      fields: [],
      submit: 'Supprimer',
      check: async () => { await call(`${path}/${encodeURIComponent(x.id)}`, { method: 'DELETE' }); return null; },
    });
    if (v) refresh();
  }

  onToken(() => refresh());
  refresh();
  return { el, refresh };
}
