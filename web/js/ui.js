// Small DOM helpers: element builder, sortable tables with CSV export, a search
// combobox (WAI-ARIA 1.2 pattern), loading and error messages.

import { csvNumber, fold, int } from './format.js';
import { isAbort } from './api.js';

/** h('p', {class: 'x'}, 'text', child…) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the content of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export const newId = (prefix = 'id') => `${prefix}-${++uid}`;

/**
 * An error box (role=alert) — errors are shown, never swallowed. The service explains its
 * refusals in English (`parameter commune 99999 is not…`): the box says what went wrong
 * in French — `what[status]` when the view knows better, e.g. {404: 'aucune commune…'} —
 * and keeps the service's own words under « Détail technique » for whoever reports it.
 */
export function errorBox(err, what) {
  const msg = err instanceof Error ? err.message : String(err);
  const detail = err?.name === 'ApiError' ? err.detail : '';
  if (!detail) return h('div', { class: 'error', role: 'alert' }, h('p', null, msg));
  // « Erreur du service (introuvable) : <detail> » → « Erreur du service (introuvable) ».
  const head = msg.endsWith(detail) ? msg.slice(0, -detail.length).replace(/\s*:\s*$/, '') : 'Erreur du service';
  const said = what?.[err.status] ?? STATUS_SENTENCES[err.status] ?? 'le service n’a pas pu répondre à cette demande.';
  return h('div', { class: 'error', role: 'alert' },
    h('p', null, `${head} : ${said}`),
    h('details', { class: 'tech' }, h('summary', null, 'Détail technique'),
      h('p', null, h('code', { lang: 'en' }, `${err.status ?? ''} ${err.title ?? ''} — ${detail}`.trim()))));
}

/** What a refusal of the service means, in French, when the view has nothing better. */
const STATUS_SENTENCES = {
  400: 'la demande contient une valeur que le service n’accepte pas.',
  404: 'ce qui est demandé n’existe pas dans les données.',
  409: 'ce calcul n’est pas possible avec ces données.',
  413: 'la demande est trop volumineuse.',
  422: 'la demande contient une valeur que le service n’accepte pas.',
  500: 'le service a rencontré une erreur interne ; réessayez plus tard.',
  503: 'le service est momentanément indisponible ; réessayez plus tard.',
  504: 'le calcul a pris trop de temps ; réessayez plus tard.',
};

/**
 * Brings a result into view after a search or a tap: on a phone the results are far below
 * the map and the form, and nothing on screen would change. Moves the focus to the
 * result's heading (the caller announces the result politely) and scrolls it to the top
 * of the screen on a phone, just into view in the desktop panel.
 */
export function revealResult(heading) {
  if (!heading?.isConnected) return;
  if (!heading.hasAttribute('tabindex')) heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
  const phone = window.matchMedia('(max-width: 760px)').matches;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  heading.scrollIntoView({ block: phone ? 'start' : 'nearest', behavior: smooth ? 'smooth' : 'auto' });
}

/** Brings the map into view (on a phone it is above the panel, often off screen). */
export function revealMap() {
  const area = document.querySelector('.map-area');
  if (!area) return;
  const r = area.getBoundingClientRect();
  if (r.top >= 0 && r.bottom <= window.innerHeight + 1) return;
  area.scrollIntoView({ block: 'start', behavior: 'auto' });
}

/** A loading line with a spinner; `aria-busy` is set on the container by the caller. */
export function loading(text = 'Chargement…') {
  return h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/**
 * Runs `task()` while `container` shows a loading line; shows the error in words if it fails.
 * Returns the task's result, or undefined after an error or an abort.
 */
export async function withLoading(container, text, task) {
  container.setAttribute('aria-busy', 'true');
  fill(container, loading(text));
  try {
    return await task();
  } catch (e) {
    if (isAbort(e)) return undefined;
    fill(container, errorBox(e));
    console.error(e);
    return undefined;
  } finally {
    container.removeAttribute('aria-busy');
  }
}

/* ---------------------------------------------------------------- tables */

const collator = new Intl.Collator('fr', { sensitivity: 'base', numeric: true });

/**
 * Sortable table. columns: [{key, label, num?, value?(row), format?(row) → string|Node,
 * csv?(row), abbr?}]. Headers are buttons (keyboard-operable) and carry aria-sort.
 * Returns {el, table, setRows(rows), getRows(), exportCsv(filename)}.
 */
export function dataTable({ caption, columns, rows = [], sort, limit = 0, empty = 'Aucune ligne.', id, csvName }) {
  const tableId = id ?? newId('table');
  let data = rows.slice();
  let sortKey = sort?.key ?? null;
  let sortDir = sort?.dir ?? 'asc';
  let showAll = false;

  const valueOf = (col, row) => (col.value ? col.value(row) : row[col.key]);
  const thead = h('thead');
  const tbody = h('tbody');
  const tfoot = h('tfoot');
  const table = h('table', { class: 'data', id: tableId },
    caption ? h('caption', null, caption) : null, thead, tbody, tfoot);
  const more = h('p', { class: 'table-more' });
  const tools = h('div', { class: 'table-tools' });
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption ?? 'Tableau' }, table);
  // A table wider than its box scrolls sideways: say so (shadows in style.css, and a hint).
  const scrollHint = h('p', { class: 'scroll-hint', 'aria-hidden': 'true' }, 'Faire défiler le tableau →');
  const el = h('div', { class: 'table-block' }, tools, scrollHint, wrap, more);
  const checkScroll = () => el.classList.toggle('scrolls', wrap.scrollWidth > wrap.clientWidth + 1);
  if (window.ResizeObserver) new ResizeObserver(checkScroll).observe(wrap);

  if (csvName) {
    tools.append(h('button', {
      type: 'button', class: 'secondary small',
      onclick: () => exportCsv(typeof csvName === 'function' ? csvName() : csvName),
    }, 'Exporter en CSV'));
  }

  const shownCols = () => columns.filter((c) => !c.csvOnly);

  function header() {
    const tr = h('tr');
    for (const col of shownCols()) {
      const active = col.key === sortKey;
      const th = h('th', {
        scope: 'col',
        class: col.num ? 'n' : null,
        'aria-sort': active ? (sortDir === 'asc' ? 'ascending' : 'descending') : 'none',
      });
      if (col.sortable === false) {
        th.append(col.label);
      } else {
        const arrow = active ? (sortDir === 'asc' ? '▲' : '▼') : '↕';
        th.append(h('button', {
          type: 'button',
          class: 'sort',
          title: `Trier par ${col.label.toLowerCase?.() ?? col.label}`,
          onclick: () => {
            if (sortKey === col.key) sortDir = sortDir === 'asc' ? 'desc' : 'asc';
            else { sortKey = col.key; sortDir = col.num ? 'desc' : 'asc'; }
            render();
            table.querySelector(`th:nth-child(${shownCols().indexOf(col) + 1}) button`)?.focus();
          },
        }, col.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, ` ${arrow}`)));
      }
      tr.append(th);
    }
    fill(thead, tr);
  }

  function sorted() {
    if (!sortKey) return data;
    const col = columns.find((c) => c.key === sortKey);
    if (!col) return data;
    const dir = sortDir === 'asc' ? 1 : -1;
    return data.slice().sort((a, b) => {
      const va = valueOf(col, a);
      const vb = valueOf(col, b);
      const na = va == null || (typeof va === 'number' && Number.isNaN(va));
      const nb = vb == null || (typeof vb === 'number' && Number.isNaN(vb));
      if (na || nb) return na === nb ? 0 : na ? 1 : -1; // missing values last
      if (typeof va === 'number' && typeof vb === 'number') return (va - vb) * dir;
      return collator.compare(String(va), String(vb)) * dir;
    });
  }

  function render() {
    header();
    const all = sorted();
    const shown = limit && !showAll ? all.slice(0, limit) : all;
    const trs = shown.map((row) => {
      const tr = h('tr');
      shownCols().forEach((col, i) => {
        const content = col.format ? col.format(row) : valueOf(col, row);
        const cell = h(i === 0 ? 'th' : 'td', { class: col.num ? 'n' : null, scope: i === 0 ? 'row' : null });
        append(cell, [content ?? '—']);
        tr.append(cell);
      });
      return tr;
    });
    fill(tbody, trs);
    requestAnimationFrame(checkScroll);
    if (!all.length) fill(tbody, h('tr', null, h('td', { colspan: shownCols().length, class: 'empty' }, empty)));
    if (limit && all.length > limit) {
      fill(more,
        showAll ? `${int(all.length)} lignes.` : `${int(limit)} premières lignes sur ${int(all.length)}. `,
        h('button', { type: 'button', class: 'linkish', onclick: () => { showAll = !showAll; render(); } },
          showAll ? `N'afficher que les ${int(limit)} premières` : 'Tout afficher'));
    } else {
      fill(more);
    }
  }

  function exportCsv(filename) {
    const cols = columns.filter((c) => c.csv !== false);
    const lines = [cols.map((c) => csvCell(c.csvLabel ?? c.label)).join(';')];
    for (const row of sorted()) {
      lines.push(cols.map((c) => {
        const v = c.csv ? c.csv(row) : valueOf(c, row);
        return typeof v === 'number' ? csvNumber(v) : csvCell(v);
      }).join(';'));
    }
    downloadText(filename, `\ufeff${lines.join('\r\n')}\r\n`, 'text/csv;charset=utf-8');
  }

  render();
  return {
    el, table,
    setRows(r) { data = r.slice(); showAll = false; render(); },
    setFoot(...children) { fill(tfoot, children); },
    getRows: () => sorted(),
    exportCsv,
  };
}

function csvCell(v) {
  if (v == null) return '';
  const s = String(v);
  return /[;"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function downloadText(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

/** A file-name-safe slug: "CLS du Thouarsais" → "cls-du-thouarsais". */
export function slug(s) {
  return fold(s).replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'export';
}

/* ---------------------------------------------------------------- search combobox */

/**
 * Search field with a suggestion list (WAI-ARIA combobox, list autocomplete).
 * source(q, signal) → Promise<[{label, detail?, value}]>; onPick(value, item).
 * Arrow keys move in the list, Enter picks (the first suggestion if none is active),
 * Escape closes. The number of suggestions is announced.
 */
export function searchBox({ label, placeholder = '', hint, source, onPick, minLength = 2, delay = 180, name }) {
  const id = newId('search');
  const listId = `${id}-list`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', {
    id, type: 'search', name: name ?? id, autocomplete: 'off', spellcheck: 'false',
    placeholder, role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false',
    'aria-controls': listId, 'aria-describedby': hintId,
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'suggestions', hidden: true, 'aria-label': `Suggestions : ${label}` });
  const status = h('div', { class: 'search-status', role: 'status', 'aria-live': 'polite' });
  const el = h('div', { class: 'search' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('div', { class: 'search-field' }, input, list),
    status);

  let items = [];
  let active = -1;
  let timer = 0;
  let controller = null;
  let pending = null; // promise of the current lookup
  let lastQuery = '';

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }

  function renderList() {
    fill(list, items.map((it, i) => h('li', {
      id: `${listId}-${i}`, role: 'option', 'aria-selected': i === active ? 'true' : 'false',
      class: i === active ? 'active' : null,
      onmousedown: (e) => e.preventDefault(), // keep focus in the input
      onclick: () => pick(i),
    }, h('span', { class: 'opt-label' }, it.label), it.detail ? h('span', { class: 'opt-detail' }, it.detail) : null)));
    const open = items.length > 0;
    list.hidden = !open;
    input.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (active >= 0) input.setAttribute('aria-activedescendant', `${listId}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function pick(i) {
    const it = items[i];
    if (!it) return;
    input.value = it.pickedLabel ?? it.label;
    lastQuery = input.value;
    close();
    status.textContent = '';
    onPick(it.value, it);
  }

  async function lookup(q) {
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    status.textContent = 'Recherche…';
    try {
      const found = await source(q, mine.signal);
      if (mine !== controller) return items;
      items = found;
      active = -1;
      renderList();
      status.textContent = items.length
        ? `${items.length} ${items.length > 1 ? 'suggestions' : 'suggestion'} : flèches haut et bas pour choisir, Entrée pour valider.`
        : `Aucun résultat pour « ${q} ».`;
      return items;
    } catch (e) {
      if (isAbort(e)) return items;
      items = [];
      renderList();
      status.textContent = '';
      status.append(errorBox(e));
      return items;
    }
  }

  function schedule() {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q === lastQuery && items.length) return;
    lastQuery = q;
    if (q.length < minLength) {
      controller?.abort();
      items = [];
      close();
      status.textContent = q.length ? `Tapez au moins ${minLength} caractères.` : '';
      pending = null;
      return;
    }
    pending = new Promise((resolve) => {
      timer = setTimeout(() => lookup(q).then(resolve), delay);
    });
  }

  input.addEventListener('input', schedule);
  input.addEventListener('keydown', async (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!items.length) return;
      active = e.key === 'ArrowDown' ? (active + 1) % items.length : (active - 1 + items.length) % items.length;
      renderList();
      list.children[active]?.scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (active >= 0) { pick(active); return; }
      // Enter before the suggestions arrived: wait for them, then take the first.
      const q = input.value.trim();
      if (q.length < minLength) return;
      if (q !== lastQuery || !pending) { clearTimeout(timer); lastQuery = q; pending = lookup(q); }
      const found = await pending;
      if (found?.length) pick(0);
    } else if (e.key === 'Escape') {
      if (!list.hidden) { e.preventDefault(); close(); }
    }
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
  input.addEventListener('focus', () => { if (items.length && input.value.trim() === lastQuery) renderList(); });

  return {
    el, input,
    set(value) { input.value = value; lastQuery = value; items = []; close(); },
    focus() { input.focus(); },
  };
}

/** A select built from [{value, label, disabled?, group?}]. */
export function select({ label, options, value, onChange, hint }) {
  const id = newId('select');
  const hintId = hint ? `${id}-hint` : null;
  const sel = h('select', { id, 'aria-describedby': hintId });
  let group = null;
  for (const o of options) {
    let parent = sel;
    if (o.group) {
      if (!group || group.label !== o.group) { group = h('optgroup', { label: o.group }); sel.append(group); }
      parent = group;
    } else {
      group = null;
    }
    parent.append(h('option', { value: o.value, disabled: o.disabled || null, selected: o.value === value || null }, o.label));
  }
  if (onChange) sel.addEventListener('change', () => onChange(sel.value));
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), sel, hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
  return { el, select: sel };
}

/**
 * A select of counts (e.g. 1, 3, 5, 10) keeping those up to `max` (the service's limit);
 * `preferred` is chosen when kept, else the largest kept. onChange gets a number.
 */
export function countSelect({ label, counts, max, preferred, onChange }) {
  const kept = counts.filter((n) => n <= max);
  const value = kept.includes(preferred) ? preferred : kept.at(-1);
  return select({
    label,
    options: kept.map((n) => ({ value: String(n), label: String(n) })),
    value: String(value),
    onChange: onChange && ((v) => onChange(Number(v))),
  });
}

/** A badge saying a list is partial. */
export function partialBadge(text = 'liste partielle') {
  return h('span', { class: 'badge warn' }, text);
}

/** A definition list from [[term, description]]. */
export function dl(pairs, cls) {
  return h('dl', { class: cls ?? 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/** A visually hidden polite status line: say() announces a short summary of a result. */
export function announcer() {
  const el = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  return { el, say(text) { el.textContent = ''; setTimeout(() => { el.textContent = text; }, 50); } };
}

/** « Cliquez sur » with a mouse, « Touchez » on a touch screen, before what to touch. */
export const CLICK = window.matchMedia?.('(hover: none)').matches ? 'Touchez' : 'Cliquez sur';
