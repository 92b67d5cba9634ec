// Calls to the careaccess service. Errors come back as application/problem+json
// {status, title, detail}: they are turned into an ApiError whose message is French
// context + the service's own detail, so the page can show it in words.

export class ApiError extends Error {
  constructor(message, { status = 0, title = '', detail = '', type = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
  }
}

// The build the page works on. Behind several servers that reload a new build one after
// the other, a page must not mix two builds: it learns the build from its first answer
// (X-Careaccess-Build) and names it on every data request after; a server answers from
// that build (kept for a grace period after a reload), sends the request to another
// server (503, nginx retries) or says the build is gone (410). Saved work is not data of
// a build: never pinned.
export const BUILD_HEADER = 'X-Careaccess-Build';
const BUILD_GONE = new Set(['urn:careaccess:problem:build-gone', 'urn:careaccess:problem:build-elsewhere']);
let build = null;
/** While the first request is in flight: the others wait for it to learn the build. */
let learning = null;

/** The build the page works on (null until the first answer). */
export function currentBuild() {
  return build;
}

const pinnable = (path) => !/^\/(saved-scenarios|perimeters|audit|health|admin)\b/.test(path);

/** Headers naming the page's build, for requests made outside `api()` (the map's). */
export function buildHeaders(url) {
  if (!build) return {};
  let u;
  try {
    u = new URL(url, location.href);
  } catch {
    return {};
  }
  return u.origin === location.origin && pinnable(u.pathname) ? { [BUILD_HEADER]: build } : {};
}

function learn(res) {
  const b = res.headers.get(BUILD_HEADER);
  if (b && !build) build = b;
}

/** The data were updated while the page was open: offer to reload (once). */
function dataUpdated() {
  if (document.getElementById('donnees-mises-a-jour')) return;
  const bar = document.createElement('div');
  bar.id = 'donnees-mises-a-jour';
  bar.className = 'donnees-mises-a-jour';
  bar.setAttribute('role', 'alert');
  bar.textContent = 'Les données ont été mises à jour — ';
  const again = document.createElement('button');
  again.type = 'button';
  again.textContent = 'recharger';
  again.addEventListener('click', () => location.reload());
  bar.append(again);
  document.body.append(bar);
}

const STATUS_FR = {
  400: 'requête refusée',
  404: 'introuvable',
  405: 'méthode non permise',
  409: 'conflit',
  413: 'requête trop volumineuse',
  422: 'requête invalide',
  500: 'erreur interne',
  502: 'passerelle en erreur',
  503: 'service indisponible',
  504: 'délai dépassé',
};

async function problem(res) {
  let detail = '';
  let title = res.statusText;
  let kind = '';
  const type = res.headers.get('content-type') ?? '';
  try {
    if (type.includes('json')) {
      const p = await res.json();
      detail = p.detail ?? p.title ?? '';
      title = p.title ?? title;
      kind = p.type ?? '';
    } else {
      detail = (await res.text()).slice(0, 300);
    }
  } catch {
    /* body unreadable: the status says enough */
  }
  const what = STATUS_FR[res.status] ?? `statut ${res.status}`;
  return new ApiError(`Erreur du service (${what}) : ${detail || title || 'sans détail'}`, {
    status: res.status,
    title,
    detail,
    type: kind,
  });
}

async function request(path, { method = 'GET', body, signal, accept = 'application/json', token = null } = {}) {
  const pinned = pinnable(path);
  let learnt = null;
  if (pinned && !build) {
    if (learning) await learning;
    if (!build) learning = new Promise((resolve) => { learnt = resolve; });
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: {
        Accept: accept,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(pinned && build ? { [BUILD_HEADER]: build } : {}),
        // A planner's list in an analysis: a private one is read with its owner's token.
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(
      `Le service careaccess ne répond pas (${e.message}). Vérifiez qu'il est lancé et que la connexion fonctionne.`,
    );
  } finally {
    if (res && pinned) learn(res);
    if (learnt) {
      learning = null;
      learnt();
    }
  }
  if (!res.ok) {
    const err = await problem(res);
    if (BUILD_GONE.has(err.type)) dataUpdated();
    throw err;
  }
  return res;
}

/** GET/POST returning parsed JSON (`token`: sent as a bearer token, for a planner's list). */
export async function api(path, opts) {
  const res = await request(path, opts);
  try {
    return await res.json();
  } catch (e) {
    throw new ApiError(`Réponse illisible du service pour ${path} (${e.message}).`);
  }
}

/** GET returning text (CSV). */
export async function apiText(path, opts) {
  const res = await request(path, { ...opts, accept: 'text/csv, text/plain, */*' });
  return res.text();
}

/** Builds a query string, skipping null/undefined values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v == null || v === '') continue;
    u.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** True for an aborted fetch (a newer request replaced it): not an error to show. */
export function isAbort(e) {
  return e?.name === 'AbortError';
}
