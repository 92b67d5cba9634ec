// French words shared by the views: territory types, the grammar of each kind of
// structure (with words built from the service's label for kinds this page does not
// know), the names of the accessibility profiles, and the reasons the service gives for
// a missing value (`<kind>_manque`, `acc_<profile>_manque`, explain's `missing`…).

export const TYPE_LABELS = {
  cls: 'Contrat local de santé',
  epci: 'EPCI',
  departement: 'Département',
  region: 'Région',
  commune: 'Commune',
  perimeter: 'Périmètre',
};

/** Grammar the sentences need, per kind. */
const KIND_WORDS = {
  msp: { short: 'MSP', nearest: 'la MSP la plus proche', a: 'une MSP', plural: 'MSP' },
  ehpad: { short: 'EHPAD', nearest: "l'EHPAD le plus proche", a: 'un EHPAD', plural: 'EHPAD' },
  clic: { short: 'CLIC', nearest: 'le CLIC le plus proche', a: 'un CLIC', plural: 'CLIC' },
  centre_sante: { short: 'Centre de santé', nearest: 'le centre de santé le plus proche', a: 'un centre de santé', plural: 'centres de santé' },
  hospital: { short: 'Hôpital général', nearest: "l'hôpital général le plus proche", a: 'un hôpital général', plural: 'hôpitaux généraux' },
  psychiatry: { short: 'Psychiatrie', nearest: 'la structure de psychiatrie la plus proche', a: 'une structure de psychiatrie', plural: 'structures de psychiatrie' },
  ssr: { short: 'SSR', nearest: "l'établissement de soins de suite et de réadaptation (SSR) le plus proche", a: 'un établissement de SSR', plural: 'établissements de SSR' },
  long_stay: { short: 'USLD', nearest: "l'unité de soins de longue durée (USLD) la plus proche", a: 'une USLD', plural: 'USLD' },
  ehpa: { short: 'EHPA', nearest: "l'EHPA le plus proche", a: 'un EHPA', plural: 'EHPA' },
  autre: { short: 'Autre FINESS', nearest: "l'établissement FINESS le plus proche", a: 'un établissement FINESS', plural: 'autres établissements FINESS' },
};

/**
 * Kinds the page always names, even when the data has none of them (they are then shown
 * as unavailable, with the reason). Any other kind the service lists appears once it
 * has structures, and is otherwise only mentioned with the sources.
 */
export const ALWAYS_NAMED_KINDS = new Set(['msp', 'ehpad', 'clic', 'centre_sante', 'hospital']);

/** {short, nearest, a, plural} for a kind; `label` is the service's name for it. */
export function kindWords(id, label) {
  return KIND_WORDS[id] ?? {
    short: label,
    nearest: `la structure la plus proche (${label})`,
    a: `une structure « ${label} »`,
    plural: `structures « ${label} »`,
  };
}

/** Short names of the accessibility profiles (the service's title is used for others). */
export const PROFILE_NAMES = {
  mg: 'Médecins généralistes (approché)',
  msp: 'MSP',
  ehpad: 'Places en EHPAD',
  hospital: 'Hôpitaux généraux',
  clic: 'CLIC',
};

/* ------------------------------------------------------------ missing values */

/** The service's reason codes for a missing value, in French. */
const MISSING_WORDS = {
  hors_couverture: () => 'non couvert par la liste',
  aucune_structure_par_la_route: () => 'aucune structure accessible par la route',
  sans_point_de_reference: () => 'commune sans point de référence',
  demande_inconnue: () => 'population de référence inconnue',
  sites_sans_capacite: (n) => (n == null
    ? 'structures sans capacité connue dans la zone'
    : `${n} ${n >= 2 ? 'structures' : 'structure'} sans capacité connue dans la zone`),
  demande_voisine_inconnue: (n) => (n == null || n <= 1
    ? "population inconnue d'une commune voisine de la zone"
    : `population inconnue de communes voisines de la zone (${n} structures concernées)`),
};

/**
 * The reasons of a missing value as [{code, n}]. Accepts what the service sends: the
 * column form `sites_sans_capacite:3,demande_voisine_inconnue:1`, an object
 * {reason, sites} (explain, scenario deltas) or a list of either. [] when nothing is missing.
 */
export function missingReasons(raw) {
  if (raw == null || raw === '') return [];
  if (Array.isArray(raw)) return raw.flatMap(missingReasons);
  if (typeof raw === 'object') {
    const code = raw.reason ?? raw.code;
    if (!code) return [];
    const n = raw.sites ?? raw.n ?? raw.count;
    return [{ code: String(code), n: typeof n === 'number' ? n : null }];
  }
  return String(raw).split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const [code, n] = part.split(':');
    const num = n != null && n !== '' ? Number(n) : null;
    return { code, n: Number.isFinite(num) ? num : null };
  });
}

/** One reason in French (unknown codes are shown as the service wrote them). */
export function missingReasonText({ code, n }) {
  const words = MISSING_WORDS[code];
  return words ? words(n) : (n != null ? `${code.replace(/_/g, ' ')} (${n})` : code.replace(/_/g, ' '));
}

/** The French text of a missing value's reasons, or null when there is none. */
export function missingText(raw) {
  const reasons = missingReasons(raw);
  return reasons.length ? reasons.map(missingReasonText).join(' ; ') : null;
}

/** The first reason code of a missing value, or null. */
export function missingCode(raw) {
  return missingReasons(raw)[0]?.code ?? null;
}

/* ------------------------------------------------------------ communes déléguées */

/**
 * The place a name built from a list's template speaks of (« MSP de Mauzé-Thouarsais »
 * → « Mauzé-Thouarsais »), when it is not the commune the structure is counted in: the
 * list wrote an ancienne commune (now a commune déléguée of a commune nouvelle), and the
 * service counts the structure in the commune actuelle (« Thouars »). null otherwise.
 */
export function formerCommune(name, communeName) {
  const m = /^(?:MSP|Maison de santé(?: pluriprofessionnelle)?) (?:de la |de l['’]|de |d['’]|du |des )(.+)$/iu.exec(String(name ?? '').trim());
  if (!m || !communeName) return null;
  const article = /^(?:\S+ )+?(du|des) /iu.exec(name)?.[1]?.toLowerCase();
  const written = article === 'du' ? `Le ${m[1]}` : article === 'des' ? `Les ${m[1]}` : m[1];
  const key = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[-'’\s]+/g, ' ').replace(/^(le|la|les|l) /, '').trim();
  return key(written) === key(communeName) || key(m[1]) === key(communeName) ? null : written;
}

/** The sentence that explains it: « Mauzé-Thouarsais : commune déléguée de Thouars… ». */
export function formerCommuneText(place, communeName) {
  return `${place} est une ancienne commune, aujourd’hui commune déléguée de ${communeName} (commune nouvelle) : la liste nomme la structure d’après ${place}, les calculs la comptent dans ${communeName}.`;
}
