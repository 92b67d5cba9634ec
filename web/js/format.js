// French number formatting, used everywhere a number reaches the page.
// Intl.NumberFormat('fr-FR') gives "3,26", "12,4" and a narrow no-break space between thousands.

const cache = new Map();
function nf(min, max) {
  const key = `${min}/${max}`;
  if (!cache.has(key)) {
    cache.set(key, new Intl.NumberFormat('fr-FR', { minimumFractionDigits: min, maximumFractionDigits: max }));
  }
  return cache.get(key);
}

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** A number with at most `max` decimals (and at least `min`). */
export function num(v, max = 2, min = 0) {
  return isNum(v) ? nf(min, max).format(v) : '—';
}

/** Integer with French thousands separators: "35 235". */
export function int(v) {
  return isNum(v) ? nf(0, 0).format(Math.round(v)) : '—';
}

/** Population: "35 235 hab." */
export function pop(v) {
  return isNum(v) ? `${int(v)} hab.` : '—';
}

/** "habitant" / "habitants" with the number. */
export function habitants(v) {
  if (!isNum(v)) return '—';
  return `${int(v)} ${Math.abs(v) >= 2 ? 'habitants' : 'habitant'}`;
}

/** A value with sensible precision: 2 decimals under 10, 1 under 100, none above. */
export function value(v) {
  if (!isNum(v)) return '—';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return nf(0, 0).format(v);
  if (a >= 10) return nf(0, 1).format(v);
  if (a >= 0.1) return nf(0, 2).format(v);
  return nf(0, 3).format(v);
}

/** Kilometres from kilometres: "12,4 km" (no decimal from 100 km). */
export function km(v) {
  if (!isNum(v)) return '—';
  return `${Math.abs(v) >= 100 ? nf(0, 0).format(v) : nf(1, 1).format(v)} km`;
}

/** Kilometres from metres. */
export function kmFromM(m) {
  return isNum(m) ? km(m / 1000) : '—';
}

/** Minutes: "12 min", "1 h 05". */
export function minutes(v) {
  if (!isNum(v)) return '—';
  const m = Math.round(v);
  if (m < 60) return `${Math.max(m, 1)} min`;
  const h = Math.floor(m / 60);
  const r = m % 60;
  return `${nf(0, 0).format(h)} h ${String(r).padStart(2, '0')}`;
}

/** Share 0–1 as a percentage: "88,5 %". */
export function pct(share, digits = 1) {
  if (!isNum(share)) return '—';
  return `${nf(0, digits).format(share * 100)} %`;
}

/** Signed integer: "+4 069", "−12", "0". */
export function signedInt(v) {
  if (!isNum(v)) return '—';
  if (v === 0) return '0';
  return `${v > 0 ? '+' : '−'}${int(Math.abs(v))}`;
}

/** Signed value with the precision of value(). */
export function signedValue(v) {
  if (!isNum(v)) return '—';
  if (v === 0) return '0';
  return `${v > 0 ? '+' : '−'}${value(Math.abs(v))}`;
}

/**
 * French phone number: the data sometimes lost the leading 0 ("549680156").
 * Returns { text: "05 49 68 01 56", href: "tel:+33549680156" } or null.
 */
export function phone(raw) {
  if (raw == null || raw === '') return null;
  let d = String(raw).replace(/[^\d+]/g, '');
  if (d.startsWith('+33')) d = `0${d.slice(3)}`;
  if (d.startsWith('0033')) d = `0${d.slice(4)}`;
  if (/^[1-9]\d{8}$/.test(d)) d = `0${d}`;
  if (/^0\d{9}$/.test(d)) {
    return { text: d.replace(/(\d\d)(?=\d)/g, '$1 ').trim(), href: `tel:+33${d.slice(1)}` };
  }
  return { text: String(raw), href: null };
}

/** A number for a CSV cell meant for French spreadsheets: decimal comma, no grouping. */
export function csvNumber(v, max = 4) {
  if (!isNum(v)) return '';
  return String(Number(v.toFixed(max))).replace('.', ',');
}

/** Accent- and case-insensitive key for comparisons. */
export function fold(s) {
  return String(s ?? '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[-'’\s]+/g, ' ')
    .trim();
}

/** Plural helper: plural(3, 'commune') → "3 communes". */
export function plural(n, word, pluralWord = `${word}s`) {
  return `${int(n)} ${Math.abs(n) >= 2 ? pluralWord : word}`;
}

/** First letter in capitals: "centres de santé" → "Centres de santé". */
export function capital(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/* ------------------------------------------------------------ names in capitals */

// FINESS writes names and addresses in capitals (« EHPAD LES GLYCINES », « 12 RUE DE LA
// GARE »): shown the French way, in title case, with the small words in lower case and
// the acronyms kept. Text that already has lower-case letters is someone's choice: kept.

const SMALL_WORDS = new Set(['de', 'du', 'des', 'la', 'le', 'les', 'et', 'en', 'sur', 'sous', 'aux', 'au', 'à', 'a']);
const ACRONYMS = new Set(['EHPAD', 'EHPA', 'MSP', 'CH', 'CHU', 'CHS', 'CHI', 'CHR', 'SSR', 'USLD', 'SAS', 'CCAS', 'CIAS', 'ADMR',
  'MAS', 'FAM', 'USSR', 'SSIAD', 'CMP', 'CMPP', 'HAD', 'CPTS', 'GH', 'GHT', 'CEGIDD', 'SMUR', 'SAMU', 'CSAPA', 'CATTP',
  'IME', 'ESAT', 'SAAD', 'SPASAD', 'UHR', 'PASA', 'MDPH', 'CLIC', 'CLS', 'EPCI', 'ARS', 'SA', 'SARL', 'SAS', 'SCI', 'UGECAM',
  'MGEN', 'MSA', 'CPAM', 'CRF', 'APF', 'APAJH', 'ADAPEI', 'UDAF', 'BP', 'CS', 'ZA', 'ZI', 'ZAC', 'RN', 'RD']);
const ROMAN = /^(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})$/;
/** Street types written in lower case after the number: « 12 rue de la Gare ». */
const STREET_TYPES = new Set(['rue', 'avenue', 'boulevard', 'place', 'chemin', 'route', 'allée', 'allee', 'impasse', 'quai', 'cours',
  'square', 'passage', 'rond-point', 'esplanade', 'sentier', 'voie', 'lieu-dit', 'lotissement', 'faubourg', 'quartier', 'cité', 'cite', 'parc']);

const hasLower = (s) => /\p{Ll}/u.test(s);
const upperFirst = (w) => (w ? w[0].toLocaleUpperCase('fr') + w.slice(1) : w);

/** One word of an all-capitals text (no spaces; may hold hyphens and apostrophes). */
function titleWord(word, first) {
  // Hyphenated names: « SAINT-JEAN-DE-LUZ » → « Saint-Jean-de-Luz ».
  if (word.includes('-') && word.length > 1) {
    return word.split('-').map((part, i) => titleWord(part, first && i === 0)).join('-');
  }
  // Elision: « L'ABBESSE » → « l'Abbesse », « D'ARGENTON » → « d'Argenton ».
  const el = /^([LDlLdD])(['’])(.+)$/u.exec(word);
  if (el) return `${first ? el[1].toUpperCase() : el[1].toLowerCase()}${el[2]}${titleWord(el[3], true)}`;
  const core = word.replace(/^[^\p{L}\d]+|[^\p{L}\d.]+$/gu, '');
  if (!core) return word;
  // Acronyms, initialisms (« E.H.P.A.D. »), Roman numerals, words without a vowel (« CHNDS »).
  if (/^STE?S?$/.test(core)) return word.replace(core, upperFirst(core.toLowerCase())); // « St », « Ste »
  if (ACRONYMS.has(core) || /^(\p{Lu}\.)+\p{Lu}?$/u.test(core) || (core !== 'I' && ROMAN.test(core))
    || (core.length >= 2 && /^\p{Lu}+$/u.test(core) && !/[AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜ]/u.test(core))) return word;
  const lower = word.toLocaleLowerCase('fr');
  if (!first && SMALL_WORDS.has(core.toLocaleLowerCase('fr'))) return lower;
  const i = lower.search(/\p{L}/u);
  return i < 0 ? lower : lower.slice(0, i) + upperFirst(lower.slice(i));
}

/** Title case of an all-capitals text; a new part starts after « ( », « - » or « / ». */
function titleCase(text) {
  let first = true;
  return text.split(/(\s+)/).map((w) => {
    if (/^\s*$/.test(w)) return w;
    const out = titleWord(w, first);
    first = /^[-–—(/]$/.test(w) || /[(]$/.test(w);
    return out;
  }).join('');
}

/** A structure's name for display: « EHPAD LES GLYCINES » → « EHPAD les Glycines ». */
export function displayName(s) {
  if (s == null || s === '') return s;
  const t = String(s);
  return hasLower(t) ? t : titleCase(t);
}

/**
 * An address for display, part by part (between commas): « 12 RUE DE LA GARE, 79100
 * THOUARS » → « 12 rue de la Gare, 79100 Thouars ». Parts already in mixed case are kept.
 */
export function displayAddress(s) {
  if (s == null || s === '') return s;
  return String(s).split(/(,\s*)/).map((part) => {
    if (/^,\s*$/.test(part) || hasLower(part)) return part;
    const words = titleCase(part).split(/(\s+)/);
    // « 12 Rue de la Gare » → « 12 rue de la Gare »: the street type after the number.
    const j = words.findIndex((w) => /\p{L}/u.test(w));
    if (j >= 0 && STREET_TYPES.has(words[j].toLocaleLowerCase('fr')) && words.slice(j + 1).some((w) => /\p{L}/u.test(w))
      && (j > 0)) {
      words[j] = words[j].toLocaleLowerCase('fr');
    }
    return words.join('');
  }).join('');
}
