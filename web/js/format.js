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
