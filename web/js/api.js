// Calls to the careaccess service. Errors come back as application/problem+json
// {status, title, detail}: they are turned into an ApiError whose message is French
// context + the service's own detail, so the page can show it in words.

export class ApiError extends Error {
  constructor(message, { status = 0, title = '', detail = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
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
  const type = res.headers.get('content-type') ?? '';
  try {
    if (type.includes('json')) {
      const p = await res.json();
      detail = p.detail ?? p.title ?? '';
      title = p.title ?? title;
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
  });
}

async function request(path, { method = 'GET', body, signal, accept = 'application/json' } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: {
        Accept: accept,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(
      `Le service careaccess ne répond pas (${e.message}). Vérifiez qu'il est lancé et que la connexion fonctionne.`,
    );
  }
  if (!res.ok) throw await problem(res);
  return res;
}

/** GET/POST returning parsed JSON. */
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
