// French words shared by the views: territory types, the grammar of each kind of
// structure (with words built from the service's label for kinds this page does not
// know), and the names of the accessibility profiles.

export const TYPE_LABELS = {
  cls: 'Contrat local de santé',
  epci: 'EPCI',
  departement: 'Département',
  region: 'Région',
  commune: 'Commune',
};

/** Grammar the sentences need, per kind. */
const KIND_WORDS = {
  msp: { short: 'MSP', nearest: 'la MSP la plus proche', a: 'une MSP', plural: 'MSP' },
  ehpad: { short: 'EHPAD', nearest: "l'EHPAD le plus proche", a: 'un EHPAD', plural: 'EHPAD' },
  clic: { short: 'CLIC', nearest: 'le CLIC le plus proche', a: 'un CLIC', plural: 'CLIC' },
  centre_sante: { short: 'Centre de santé', nearest: 'le centre de santé le plus proche', a: 'un centre de santé', plural: 'centres de santé' },
  hospital: { short: 'Hôpital', nearest: "l'établissement hospitalier le plus proche", a: 'un établissement hospitalier', plural: 'établissements hospitaliers' },
  ehpa: { short: 'EHPA', nearest: "l'EHPA le plus proche", a: 'un EHPA', plural: 'EHPA' },
  autre: { short: 'Autre établissement', nearest: "l'établissement FINESS le plus proche", a: 'un établissement FINESS', plural: 'autres établissements FINESS' },
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
  hospital: 'Hôpitaux',
  clic: 'CLIC',
};
