// The indicators the communes map can show, built from what the service describes
// (/collections/communes properties and accessibility profiles), with their classes,
// colours (ColorBrewer YlGnBu, colour-blind safe; darker = less well served) and legends.
// A commune without a value is hatched, over a grey that says why — the reason comes
// from the service (`<kind>_manque`, `acc_<profile>_manque`), never from the page.

import { km, minutes, num, value as fmtValue, capital } from './format.js';
import { missingReasons, missingReasonText } from './labels.js';

/** The DREES APL other than GPs': column and profession, as the service names them. */
export const APL_PROFESSIONS = [
  ['apl_inf', 'infirmières'],
  ['apl_mk', 'masseurs-kinésithérapeutes'],
  ['apl_sf', 'sages-femmes'],
  ['apl_cd', 'chirurgiens-dentistes'],
];

/** ColorBrewer YlGnBu, light → dark. */
const YLGNBU = {
  2: ['#edf8b1', '#2c7fb8'],
  3: ['#edf8b1', '#7fcdbb', '#2c7fb8'],
  4: ['#ffffcc', '#a1dab4', '#41b6c4', '#225ea8'],
  5: ['#ffffcc', '#a1dab4', '#41b6c4', '#2c7fb8', '#253494'],
  6: ['#ffffcc', '#c7e9b4', '#7fcdbb', '#41b6c4', '#2c7fb8', '#253494'],
  7: ['#ffffcc', '#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#0c2c84'],
};
export const NODATA_COLOR = '#d4d4d4';

/**
 * Kinds of missing value, from the service's reason codes. Each is hatched over its own
 * background colour, in the legend as on the map. The last one takes any other reason.
 */
const MISSING = {
  outside: { key: 'hors_couverture', codes: ['hors_couverture'], label: 'non couvert par la liste', color: '#e4e4e4' },
  noRoad: { key: 'aucune_structure_par_la_route', codes: ['aucune_structure_par_la_route'], label: 'aucune structure accessible par la route', color: '#e3bfd6' },
  unknown: { key: 'inconnue', codes: null, label: 'valeur inconnue (raison au survol)', color: '#c4c4c4' },
};
/** Official doctors' zonage classes (codes of the zonage_mg source). */
const ZONAGE = [
  { code: '1_ZIP', label: "ZIP — zone d'intervention prioritaire", color: '#253494' },
  { code: '2_ZAC', label: "ZAC — zone d'action complémentaire", color: '#41b6c4' },
  { code: '4_ZAR', label: 'ZAR — classe régionale propre à certaines ARS (libellé de la source)', color: '#c7e9b4' },
  { code: '3_HZ', label: 'HZ — hors zonage', color: '#ffffcc' },
];

const GROUPS = {
  km: "Distance à vol d'oiseau à la structure la plus proche",
  min: 'Temps en voiture estimé jusqu’à la structure la plus proche',
  acc: 'Accessibilité potentielle localisée (2SFCA, calculée par careaccess)',
  ref: 'Références officielles (médecins généralistes)',
};

/**
 * Builds the indicator list. `table` (commune attributes) gives the classes of the
 * accessibility indicators (quantiles rounded to two significant digits).
 */
export function buildIndicators(meta, table) {
  const list = [];
  const depNames = new Map((table?.rows ?? []).map((r) => [r.departement, r.departement_nom]));
  for (const unit of ['km', 'min']) {
    for (const k of meta.kinds) {
      const id = `${k.id}_${unit}`;
      const prop = meta.properties.get(id);
      const what = unit === 'km' ? "distance à vol d'oiseau" : 'temps en voiture estimé';
      if (!k.available || !prop) {
        list.push({
          id, group: GROUPS[unit], disabled: true, kind: k.id,
          label: `${k.short} — indisponible`,
          reason: `${k.title} : ${k.reason ?? "pas d'indicateur calculé"}.`,
        });
        continue;
      }
      list.push({
        id, group: GROUPS[unit], kind: k.id, type: 'seq', worseHigh: true,
        label: `${k.short} — ${unit === 'km' ? 'distance (km)' : 'temps (min)'}`,
        title: `${capital(what)} jusqu’à ${k.nearest}`,
        unit: unit === 'km' ? 'km' : 'minutes',
        description: prop.description,
        breaks: unit === 'km' ? [2, 5, 10, 20, 30] : [5, 10, 15, 20, 30],
        format: unit === 'km' ? km : minutes,
        bound: unit === 'km' ? (v) => num(v, 1) : (v) => num(v, 0),
        missingColumn: k.missingColumn,
        missingClasses: [MISSING.outside, MISSING.noRoad, MISSING.unknown],
        coverageKind: k,
        caveat: [k.partial ? `Liste des ${k.plural} partielle${k.caveat ? ` (${k.caveat.replace(/^liste partielle[,:]?\s*/i, '')})` : ''} : une commune peut paraître loin d'une structure qui existe mais n'est pas dans la liste.` : null,
          k.scope ? scopeSentence(k, depNames) : null,
          unit === 'min' ? "Temps estimé à partir de la distance à vol d'oiseau (modèle calibré sur des trajets réels en Gironde, heures creuses), pas d'un calcul d'itinéraire." : null,
        ].filter(Boolean).join(' ') || null,
      });
    }
  }
  for (const p of meta.profiles) {
    if (!p.hasIndicator) continue;
    const id = `acc_${p.id}`;
    list.push({
      id, group: GROUPS.acc, profile: p.id, type: 'seq', worseHigh: false,
      label: shortProfile(p),
      title: p.title,
      unit: p.unit,
      description: meta.properties.get(id)?.description,
      quantiles: true,
      format: (v) => `${fmtValue(v)} ${p.unit}`,
      bound: fmtValue,
      missingColumn: p.missingColumn,
      missingClasses: [MISSING.outside, MISSING.unknown],
      coverageKind: p.supply?.kind ? meta.kind(p.supply.kind) : null,
      caveat: p.caveat ? capital(p.caveat) + '.' : null,
      classNote: 'Classes : quantiles des valeurs des communes (arrondis).',
    });
  }
  if (meta.properties.has('apl_mg')) {
    list.push({
      id: 'apl_mg', group: GROUPS.ref, profile: 'mg', type: 'seq', worseHigh: false,
      label: 'APL médecins généralistes 2021 (DREES)',
      title: 'Accessibilité potentielle localisée aux médecins généralistes — APL 2021 (DREES, référence)',
      unit: 'consultations/an/habitant standardisé',
      description: meta.properties.get('apl_mg')?.description,
      breaks: [1.5, 2.5, 3, 4, 5],
      format: (v) => `${num(v, 2)} consultations/an/habitant`,
      missingClasses: [{ key: 'sans_valeur', codes: null, label: 'pas de valeur dans l’APL 2021 de la DREES', color: NODATA_COLOR }],
      bound: (v) => num(v, 1),
      caveat: null,
      classNote: 'Repères DREES/DGOS : 2,5 ou moins, commune éligible ZIP ; de 2,5 à 4, « vivier » où l’ARS choisit des ZIP et ZAC.',
    });
  }
  // The DREES APL of the other professions, in full-time equivalents per 100 000
  // standardised inhabitants; classes by quantiles (no national marks as for GPs).
  for (const [id, who] of APL_PROFESSIONS) {
    if (!meta.properties.has(id)) continue;
    list.push({
      id, group: GROUPS.ref, type: 'seq', worseHigh: false,
      label: `APL ${who} 2021 (DREES)`,
      title: `Accessibilité potentielle localisée aux ${who} — APL 2021 (DREES, référence)`,
      unit: 'ETP pour 100 000 habitants standardisés',
      description: meta.properties.get(id)?.description,
      quantiles: true,
      format: (v) => `${num(v, 1)} ETP pour 100 000 habitants`,
      missingClasses: [{ key: 'sans_valeur', codes: null, label: 'pas de valeur dans l’APL 2021 de la DREES', color: NODATA_COLOR }],
      bound: (v) => num(v, 0),
      caveat: null,
      classNote: 'Classes : quantiles des valeurs des communes (arrondis).',
    });
  }
  if (meta.properties.has('zonage_mg')) {
    const src = meta.communeSources.find((s) => s.id === 'zonage_mg');
    list.push({
      id: 'zonage_mg', group: GROUPS.ref, type: 'cat',
      label: 'Zonage médecins généralistes (ARS)',
      title: 'Zonage médecins généralistes arrêté par les ARS (ZIP / ZAC / HZ)',
      unit: null,
      categories: ZONAGE,
      format: (v) => zonageLabel(v),
      missingClasses: [{ key: 'sans_valeur', codes: null, label: 'non renseigné ou « résultat non disponible »', color: NODATA_COLOR }],
      caveat: src?.caveat ? `${capital(src.caveat)}.` : null,
    });
  }
  for (const ind of list) if (!ind.disabled && !ind.quantiles) ind.classes = classesOf(ind);
  return list;
}

/**
 * Loads the columns an indicator shows (its values and the reasons of missing ones) into
 * the commune table, and makes its classes when they are quantiles of those values.
 */
export async function prepareIndicator(ind, table) {
  await table.ensure([ind.id, ind.missingColumn].filter(Boolean));
  if (!ind.classes) {
    const values = table.rows.map((r) => r[ind.id]).filter((v) => typeof v === 'number');
    Object.assign(ind, quantileBreaks(values));
    ind.classes = classesOf(ind);
  }
  return ind;
}

/**
 * The indicator with quantile classes made from some communes only (those in view), or
 * the indicator itself when none of them has a value.
 */
export function withClassesOf(ind, rows) {
  const values = rows.map((r) => r[ind.id]).filter((v) => typeof v === 'number');
  if (!values.length) return ind;
  const shown = {
    ...ind,
    ...quantileBreaks(values),
    classNote: `Classes : quantiles des valeurs des ${values.length} communes de la partie de carte affichée (arrondis) ; elles changent quand la carte bouge.`,
  };
  shown.classes = classesOf(shown);
  return shown;
}

/** The profile's name in the indicator list. */
function shortProfile(p) {
  return `${p.name} — accessibilité`;
}

/**
 * Where a partial list speaks (careaccess.scope): its départements by name, or the ones
 * it leaves out when it covers most of them.
 */
function scopeSentence(k, depNames) {
  const name = (code) => (depNames.get(code) ? `${depNames.get(code)} (${code})` : code);
  const all = [...depNames.keys()].sort();
  const outside = all.filter((d) => !k.scope.has(d));
  if (all.length && outside.length <= 8 && outside.length < k.scope.size) {
    return outside.length
      ? `La liste ne couvre pas : ${outside.map(name).join(', ')} ; ces communes sont hachurées « non couvert par la liste ».`
      : null;
  }
  return `La liste ne couvre que ${k.scope.size > 1 ? 'les départements' : 'le département'} ${[...k.scope].sort().map(name).join(', ')} ; ailleurs les communes sont hachurées « non couvert par la liste ».`;
}

export function zonageLabel(code) {
  if (code == null) return 'non renseigné';
  return ZONAGE.find((z) => z.code === code)?.label ?? code;
}

/** Quintiles of the positive values, two significant digits; a "0" class when zeros are common. */
function quantileBreaks(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  if (!sorted.length) return { breaks: [1], zeroClass: false };
  const zeros = sorted.filter((v) => v <= 0).length;
  const pos = sorted.filter((v) => v > 0);
  const zeroClass = zeros / sorted.length >= 0.02;
  const qs = [0.2, 0.4, 0.6, 0.8].map((q) => pos[Math.floor(q * (pos.length - 1))]);
  const breaks = [];
  for (const q of qs) {
    if (!(q > 0)) continue;
    const r = round2(q);
    if (!breaks.length || r > breaks[breaks.length - 1]) breaks.push(r);
  }
  if (!breaks.length) breaks.push(round2(pos[0] ?? 1));
  return { breaks, zeroClass };
}

function round2(v) {
  const p = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 1);
  return Math.round(v / p) * p;
}

/**
 * Classes [{color, label, test(v)}]. For a sequential indicator, darker means less well
 * served: far for distances, low for accessibility.
 */
function classesOf(ind) {
  if (ind.type === 'cat') {
    return ind.categories.map((c) => ({ color: c.color, label: c.label, key: c.code, test: (v) => v === c.code }));
  }
  const b = ind.breaks;
  const edges = ind.zeroClass ? [1e-9, ...b] : b;
  const n = edges.length + 1;
  let colors = (YLGNBU[n] ?? YLGNBU[7]).slice();
  if (!ind.worseHigh) colors = colors.reverse();
  const unit = ind.unit === 'km' ? ' km' : ind.unit === 'minutes' ? ' min' : '';
  const out = [];
  for (let i = 0; i < n; i++) {
    const lo = i === 0 ? -Infinity : edges[i - 1];
    const hi = i === n - 1 ? Infinity : edges[i];
    let label;
    if (ind.zeroClass && i === 0) label = '0 (aucune offre dans la zone)';
    else if (ind.zeroClass && i === 1) label = `plus de 0 à moins de ${ind.bound(hi)}${unit}`;
    else if (i === 0) label = `moins de ${ind.bound(hi)}${unit}`;
    else if (i === n - 1) label = `${ind.bound(lo)}${unit} ou plus`;
    else label = `${ind.bound(lo)} à moins de ${ind.bound(hi)}${unit}`;
    out.push({ color: colors[i], label, lo, hi, test: (v) => v >= lo && v < hi });
  }
  return out;
}

/** The class of a value, or null (no value). */
export function classOf(ind, v) {
  if (v == null || (typeof v === 'number' && Number.isNaN(v))) return null;
  return ind.classes.find((c) => c.test(v)) ?? null;
}

/** The class of a commune (row of the commune table or feature properties), or null. */
export function classOfRow(ind, row) {
  return classOf(ind, row[ind.id]);
}

/**
 * Why a commune has no value, from the service's column: {cls (one of
 * ind.missingClasses), codes, text (French reasons)} — or null when it has a value.
 */
export function missingOf(ind, row) {
  if (classOfRow(ind, row)) return null;
  const reasons = ind.missingColumn ? missingReasons(row[ind.missingColumn]) : [];
  const code = reasons[0]?.code;
  const classes = ind.missingClasses ?? [MISSING.unknown];
  const cls = classes.find((c) => c.codes?.includes(code)) ?? classes.at(-1);
  const text = reasons.length
    ? reasons.map(missingReasonText).join(' ; ')
    : ind.missingColumn ? 'raison non donnée par le service' : cls.label;
  return { cls, codes: reasons.map((r) => r.code), reasons, text };
}

/** Colour of a commune on the map and whether it is hatched (no value). */
export function colourOfRow(ind, row) {
  const c = classOfRow(ind, row);
  if (c) return { color: c.color, hatch: false };
  return { color: missingOf(ind, row).cls.color, hatch: true };
}
