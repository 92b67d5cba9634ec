#!/usr/bin/env node
// Browser test of the careaccess web map, in headless Debian chromium with playwright-core.
//
//   CAREACCESS_URL=http://127.0.0.1:8080/ node web/tests/browser.mjs
//
// Checks: the map canvas draws the communes; the legend tells « non couvert par la liste »
// and unknown values (with the service's reasons) apart; the citizen view finds the
// structures near Thouars with distances, and from Saumur (49) says the MSP list does not
// cover it; the Thouarsais CLS territory view shows its underserved communes (sortable
// table, CSV export); Maine-et-Loire shows « — » and the non-covered line for MSP; a
// scenario site changes the numbers, and with the CLS looked at its headline comes from
// `inside` with the « non couvert » line; the explain view opens from a commune popup, and
// Tours' EHPAD accessibility gives a reason, not 0; each view clears its own map overlays
// when left; the limits come from /api; API errors are shown in French (the service's text
// under « Détail technique »); names in capitals read the French way (displayName); « Voir
// sur la carte » names its structure; Détail d'un calcul from the DREES APL map shows the
// DREES value first and fits its panel; Deux-Sèvres has its APL × zonage table; on a 390 px
// phone a search brings the results on screen, « Voir sur la carte » the map, « Utiliser ma
// position » names the commune, nothing overflows; axe-core (serious, critical, target-size)
// and measured target sizes on every view, laptop and phone. Saved work (with the
// planner's token CAREACCESS_PLANNER_TOKEN that run.sh makes): a wrong token is refused in
// French, a saved scenario's share link opened in another browser profile gives the same
// numbers and says when and on which data it was saved, a polygon drawn around Thouars
// becomes a perimeter with its coverage in Territoire and a deep link; the token dialog
// fits a phone.
// Screenshots of every view go to tests/artifacts/screenshots/ (git-ignored).
// Exits non-zero with a message naming the failed step.

import { chromium } from 'playwright-core';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const BASE = (process.env.CAREACCESS_URL ?? 'http://127.0.0.1:8080/').replace(/\/?$/, '/');
const SHOTS = process.env.CAREACCESS_SCREENSHOTS ?? path.join(repo, 'tests', 'artifacts', 'screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const LOAD_TIMEOUT = Number(process.env.CAREACCESS_LOAD_TIMEOUT ?? 180_000);
const STEP_TIMEOUT = Number(process.env.CAREACCESS_STEP_TIMEOUT ?? 60_000);

const ART = path.join(repo, 'tests', 'artifacts');
const AXE = path.join(here, '..', 'node_modules', 'axe-core', 'axe.min.js');
/** Figures of the first view and of an indicator change (browser-figures.json). */
const figures = {};
const problems = [];
let step = 'démarrage';
let page = null;
const t0 = Date.now();

function log(msg) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function shot(p, name) {
  const file = path.join(SHOTS, name);
  await p.screenshot({ path: file });
  log(`capture : ${path.relative(repo, file)}`);
}
/** Pixel position (page coordinates) of a lon/lat on the map canvas. */
async function mapPoint(p, lon, lat) {
  return p.evaluate(([x, y]) => {
    const m = window.careaccess.map;
    const pt = m.project([x, y]);
    const r = m.getCanvas().getBoundingClientRect();
    return { x: r.left + pt.x, y: r.top + pt.y };
  }, [lon, lat]);
}
async function waitMapIdle(p) {
  await p.evaluate(() => new Promise((resolve) => {
    const m = window.careaccess.map;
    // Resolve with nothing: returning the event would serialise the whole map.
    const done = () => resolve(null);
    if (!m.isMoving() && m.loaded() && !m._frameRequest) { done(); return; }
    m.once('idle', done);
    setTimeout(done, 20000);
  }));
}
/** The views that have overlays on the map now. */
async function overlayOwners(p) {
  return p.evaluate(() => window.careaccess.mapCtl.overlayOwners);
}
async function tab(p, name) {
  await p.getByRole('tab', { name }).click();
  await p.waitForFunction((n) => document.querySelector('[role=tab][aria-selected=true]')?.textContent.trim() === n, name);
}
/** Types into a search combobox and picks the suggestion whose text matches. */
async function pickSuggestion(p, input, text, match) {
  await input.fill('');
  await input.pressSequentially(text, { delay: 20 });
  const listId = await input.getAttribute('aria-controls');
  const option = p.locator(`#${listId} [role=option]`, { hasText: match });
  await option.first().waitFor({ timeout: STEP_TIMEOUT });
  await option.first().click();
}

/**
 * axe-core on the page as it is: WCAG 2.0–2.2 A/AA and best practices, target sizes
 * included. Fails on any serious or critical violation and on any target-size one,
 * printing the rule, its impact and the first elements.
 */
async function axeCheck(p, where) {
  if (!(await p.evaluate(() => Boolean(window.axe)))) await p.addScriptTag({ path: AXE });
  const found = await p.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      rules: { 'target-size': { enabled: true } },
      resultTypes: ['violations'],
    });
    return { rules: r.passes.length + r.violations.length, targetSize: [...r.passes, ...r.violations].some((x) => x.id === 'target-size'), violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, n: v.nodes.length, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')), help: v.help })) };
  });
  check(found.rules >= 20, `axe-core n’a presque rien vérifié (${found.rules} règles)`);
  check(found.targetSize, `axe-core n’a pas appliqué la règle target-size (${where})`);
  await targetSizes(p, where);
  const bad = found.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical' || v.id === 'target-size');
  const minor = found.violations.filter((v) => !bad.includes(v));
  log(`axe-core (${where}, ${found.rules} règles appliquées) : ${bad.length} violation(s) graves, ${minor.length} mineure(s)${minor.length ? ` [${minor.map((v) => `${v.id}/${v.impact}`).join(', ')}]` : ''}`);
  check(!bad.length, `axe-core (${where}) :\n${bad.map((v) => `  ${v.id} (${v.impact}, ${v.n}) : ${v.help} — ${v.targets.join(' | ')}`).join('\n')}`);
}

/**
 * Every button, link-button, checkbox, radio, tab and summary shown in the panel, a popup
 * or the map legend is at least 24 × 24 px (WCAG 2.2, 2.5.8), measured.
 */
async function targetSizes(p, where) {
  const small = await p.evaluate(() => {
    const sel = 'button, input[type=checkbox], input[type=radio], [role=tab], summary, select';
    const roots = [document.querySelector('#panel'), ...document.querySelectorAll('.maplibregl-popup'), document.querySelector('#map-legend')].filter(Boolean);
    const out = [];
    for (const root of roots) {
      for (const e of root.querySelectorAll(sel)) {
        const r = e.getBoundingClientRect();
        if (!r.width || !r.height || e.closest('[hidden]')) continue; // not shown
        if (r.width < 23.5 || r.height < 23.5) out.push(`${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''} « ${(e.getAttribute('aria-label') ?? e.textContent).trim().slice(0, 40)} » ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    }
    return out;
  });
  check(!small.length, `cibles de moins de 24 px (${where}) : ${small.slice(0, 6).join(' ; ')}`);
}

/** Whether an element's top edge is on screen (page coordinates of the viewport). */
async function onScreen(locator) {
  return locator.evaluate((e) => { const r = e.getBoundingClientRect(); return r.top >= -1 && r.top < window.innerHeight - 20; });
}

async function run() {
  await mkdir(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--enable-unsafe-swiftshader'],
  });
  try {
    await desktop(browser);
    await phone(browser);
  } catch (e) {
    try {
      if (page && !page.isClosed()) {
        await page.screenshot({ path: path.join(SHOTS, 'echec.png') });
        console.error('capture : tests/artifacts/screenshots/echec.png');
      }
    } catch { /* the page may be gone */ }
    throw e;
  } finally {
    await browser.close();
  }
}

async function watch(p) {
  p.on('pageerror', (e) => problems.push(`erreur JavaScript (${step}) : ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console (${step}) : ${m.text()}`);
  });
}

/**
 * Bytes received by a page, counted by the browser for every request it finished —
 * the map's tiles too, which MapLibre fetches from its worker (outside the page's
 * Performance entries) — and the URLs asked.
 */
const received = new WeakMap();
function countBytes(p) {
  const net = { bytes: 0, urls: [], done: [] };
  received.set(p, net);
  p.on('requestfinished', async (r) => {
    net.urls.push(r.url());
    try {
      const s = await r.sizes();
      const t = r.timing();
      const bytes = s.responseBodySize + s.responseHeadersSize;
      net.bytes += bytes;
      // When the answer ended (ms since the epoch), to count what came before a moment.
      net.done.push({ end: t.startTime + Math.max(t.responseEnd, 0), bytes, url: r.url() });
    } catch { /* the page may be gone */ }
  });
}
function bytesSoFar(p) {
  return received.get(p)?.bytes ?? 0;
}

/** The first view's targets (issue 15); the test fails above twice them. */
const TARGET = { drawn_ms: 3000, bytes: 1.5e6 };

/**
 * The first view's figures: navigation → communes drawn, → coloured, bytes received by
 * then (the first view: the page, the tiles in view, the first columns of the commune
 * table), and bytes received once the map is idle (the rest of the table, which loads
 * after the first view); recorded in tests/artifacts/browser-figures.json.
 */
async function firstViewFigures(p, device) {
  const f = await p.evaluate(() => ({
    origin: performance.timeOrigin,
    drawn_ms: Number(document.documentElement.dataset.drawnAt),
    coloured_ms: Number(document.documentElement.dataset.colouredAt),
  }));
  const net = received.get(p);
  const shown = f.origin + Math.max(f.drawn_ms, f.coloured_ms);
  delete f.origin;
  f.bytes = net.done.filter((d) => d.end <= shown + 1).reduce((a, d) => a + d.bytes, 0);
  f.bytes_after_idle = bytesSoFar(p);
  f.geometry_requests = net.urls.filter((u) => /\/tiles\/|\/map\/communes/.test(u)).length;
  figures[device] = f;
  log(`premier affichage (${device}) : communes dessinées en ${f.drawn_ms} ms, colorées en ${f.coloured_ms} ms, ${(f.bytes / 1e6).toFixed(2)} Mo reçus (${(f.bytes_after_idle / 1e6).toFixed(2)} Mo une fois la carte au repos)`);
  writeFileSync(`${ART}/browser-figures.json`, `${JSON.stringify(figures, null, 2)}\n`);
  check(Math.max(f.drawn_ms, f.coloured_ms) <= 2 * TARGET.drawn_ms, `premier affichage (${device}) en ${Math.max(f.drawn_ms, f.coloured_ms)} ms : plus de deux fois l'objectif de ${TARGET.drawn_ms} ms`);
  check(f.bytes <= 2 * TARGET.bytes, `premier affichage (${device}) : ${f.bytes} octets reçus, plus de deux fois l'objectif de ${TARGET.bytes}`);
}

/** Changing the indicator downloads no geometry (values only, or nothing). */
async function indicatorChangeFigures(p, select) {
  const before = received.get(p).urls.length;
  const bytes = bytesSoFar(p);
  const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
  await select.selectOption(options.find((v) => v !== '' && v !== options[0]) ?? options[0]);
  await waitMapIdle(p);
  const after = received.get(p).urls.slice(before);
  const geometry = after.filter((u) => /\/tiles\/|\/map\/communes/.test(u));
  figures.indicator_change = { bytes: bytesSoFar(p) - bytes, requests: after.length, geometry_requests: geometry.length };
  log(`changement d'indicateur : ${figures.indicator_change.bytes} octets, ${after.length} requêtes dont ${geometry.length} de géométrie`);
  check(geometry.length === 0, `changer d'indicateur a retéléchargé la géométrie : ${geometry.join(', ')}`);
  await select.selectOption(options[0]);
  await waitMapIdle(p);
  writeFileSync(`${ART}/browser-figures.json`, `${JSON.stringify(figures, null, 2)}\n`);
}

async function desktop(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'fr-FR', acceptDownloads: true });
  page = await context.newPage();
  const p = page;
  await watch(p);
  countBytes(p);

  step = 'ouverture de la page';
  log(`${step} : ${BASE}`);
  const res = await p.goto(BASE, { waitUntil: 'domcontentloaded' });
  check(res?.ok(), `la page ${BASE} a répondu ${res?.status()}`);
  check((res.headers()['content-type'] ?? '').includes('text/html'), `la page n'est pas du HTML (${res.headers()['content-type']})`);
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  check(await p.evaluate(() => typeof window.maplibregl === 'object'), "MapLibre n'est pas chargé depuis /node_modules");
  check(await p.locator('main').count() === 1, 'la page n’a pas de repère <main>');

  step = 'carte : communes dessinées';
  log(step);
  await p.getByText('Chargement des contours des communes').first().waitFor({ timeout: 10_000 }).catch(() => {});
  await p.waitForFunction(() => ['drawn', 'error'].includes(document.documentElement.dataset.communes), null, { timeout: LOAD_TIMEOUT });
  check(await p.evaluate(() => document.documentElement.dataset.communes) === 'drawn', `les communes ne se sont pas chargées : ${await p.locator('#map-status').innerText()}`);
  await p.waitForFunction(() => document.documentElement.dataset.colouredAt, null, { timeout: LOAD_TIMEOUT });
  await waitMapIdle(p);
  await firstViewFigures(p, 'ordinateur');
  const drawn = await p.evaluate(() => {
    const m = window.careaccess.map;
    const feats = m.queryRenderedFeatures({ layers: ['communes-fill'] });
    const codes = new Set(feats.map((f) => f.id)); // the commune's rank in the table
    // The canvas really has colour: sample pixels of the WebGL drawing buffer.
    const gl = m.getCanvas().getContext('webgl2') ?? m.getCanvas().getContext('webgl');
    const w = gl.drawingBufferWidth; const hh = gl.drawingBufferHeight;
    const px = new Uint8Array(4);
    const colours = new Set();
    for (let i = 1; i < 12; i++) for (let j = 1; j < 12; j++) {
      gl.readPixels(Math.floor((w * i) / 12), Math.floor((hh * j) / 12), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
      colours.add(px.join(','));
    }
    return { communes: codes.size, colours: colours.size };
  });
  log(`communes rendues : ${drawn.communes}, couleurs échantillonnées : ${drawn.colours}`);
  check(drawn.communes > 10_000, `trop peu de communes dessinées (${drawn.communes})`);
  check(drawn.colours >= 4, `le canevas paraît vide (${drawn.colours} couleurs)`);
  const legendRows = await p.locator('#legend-table tbody tr').count();
  check(legendRows >= 4, `légende incomplète (${legendRows} lignes)`);
  const legendText = await p.locator('#legend-table').innerText();
  check(/\d,\d/.test(legendText), `la légende n'a pas de nombre au format français : ${legendText.slice(0, 200)}`);
  await indicatorChangeFigures(p, p.getByLabel('Indicateur'));
  // Another indicator: the distance to the nearest hospital, in km with a French decimal comma.
  await p.getByLabel('Indicateur').selectOption('hospital_km');
  await p.waitForFunction(() => document.documentElement.dataset.indicator === 'hospital_km');
  check(/km/.test(await p.locator('#legend-table caption').innerText()), "la légende ne donne pas l'unité (km)");
  // Missing values: the service's reason, not the page's idea of coverage.
  await p.getByLabel('Indicateur').selectOption('msp_km');
  await p.waitForFunction(() => document.documentElement.dataset.indicator === 'msp_km');
  const mspLegend = await p.locator('#legend-table').innerText();
  check(/non couvert par la liste/.test(mspLegend), `la légende MSP ne distingue pas « non couvert par la liste » : ${mspLegend.slice(0, 300)}`);
  await p.getByLabel('Indicateur').selectOption('acc_ehpad');
  await p.waitForFunction(() => document.documentElement.dataset.indicator === 'acc_ehpad');
  const accLegend = await p.locator('#view-carte .legend').innerText();
  check(/valeur inconnue/.test(accLegend) && /sans capacité connue/i.test(accLegend) && /population de référence inconnue/i.test(accLegend),
    `la légende de l’accessibilité EHPAD ne donne pas les raisons du service : ${accLegend.slice(0, 400)}`);
  // The DREES APL of the other professions (nurses here), classes by quantiles.
  await p.getByLabel('Indicateur').selectOption('apl_inf');
  await p.waitForFunction(() => document.documentElement.dataset.indicator === 'apl_inf');
  check(/ETP/.test(await p.locator('#legend-table caption').innerText()), "la légende de l'APL infirmières ne donne pas l'unité (ETP)");
  // The ARS at its scale: « Aller au département », legend counted in view, classes of
  // the communes in view for an indicator by quantiles.
  step = 'carte : Deux-Sèvres, légende et classes de la vue';
  log(step);
  await p.waitForFunction(() => window.careaccess.ctx.table !== null, null, { timeout: LOAD_TIMEOUT });
  const nationalClasses = await p.locator('#legend-table tbody th').allInnerTexts();
  await p.getByLabel('Aller au département').selectOption('79');
  await p.locator('#legend-table caption', { hasText: 'Deux-Sèvres (79)' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.getByLabel('les communes de la partie de carte affichée').check();
  await p.locator('#view-carte .legend', { hasText: 'de la partie de carte affichée (arrondis)' }).waitFor({ timeout: STEP_TIMEOUT });
  const viewClasses = await p.locator('#legend-table tbody th').allInnerTexts();
  log(`classes APL infirmières, France : ${nationalClasses.slice(0, 3).join(' | ')} ; vue des Deux-Sèvres : ${viewClasses.slice(0, 3).join(' | ')}`);
  check(viewClasses.join() !== nationalClasses.join(), 'les classes de la vue sont celles de la France');
  await waitMapIdle(p);
  await shot(p, '01b-carte-79-classes-vue.png');
  await p.getByLabel('toutes les communes de France').check();
  await p.getByLabel('Aller au département').selectOption('');
  await p.getByLabel('Indicateur').selectOption('apl_mg');
  await waitMapIdle(p);
  await shot(p, '01-carte.png');
  await axeCheck(p, 'Carte, ordinateur');

  step = 'noms et adresses en capitales, à la française';
  const names = await p.evaluate(async () => {
    const f = await import('/js/format.js');
    return {
      a: f.displayName('EHPAD LES GLYCINES'), b: f.displayName('SAINT-JEAN-DE-LUZ'), c: f.displayName('CHU DE POITIERS'),
      d: f.displayName('RESIDENCE LOUIS XIV'), e: f.displayName('MSP de Mauzé-Thouarsais'), f: f.displayName("SITE HOSPITALIER FAYE L'ABBESSE"),
      g: f.displayAddress('12 RUE DE LA GARE, 79100 THOUARS'), h: f.displayAddress('1 RUE MOLIERE, 79100 Thouars'), i: f.displayName('E.H.P.A.D. SANITAIRE'),
    };
  });
  const want = {
    a: 'EHPAD les Glycines', b: 'Saint-Jean-de-Luz', c: 'CHU de Poitiers', d: 'Residence Louis XIV', e: 'MSP de Mauzé-Thouarsais',
    f: "Site Hospitalier Faye l'Abbesse", g: '12 rue de la Gare, 79100 Thouars', h: '1 rue Moliere, 79100 Thouars', i: 'E.H.P.A.D. Sanitaire',
  };
  for (const [k, v] of Object.entries(want)) check(names[k] === v, `displayName/displayAddress : « ${names[k]} » au lieu de « ${v} »`);

  step = 'carte : clavier (onglets)';
  await p.getByRole('tab', { name: 'Carte' }).focus();
  await p.keyboard.press('ArrowRight');
  check(await p.getByRole('tab', { name: 'Territoire' }).getAttribute('aria-selected') === 'true', 'la flèche droite ne passe pas à l’onglet suivant');
  await p.keyboard.press('ArrowLeft');

  step = 'trouver une structure : Thouars';
  log(step);
  await tab(p, 'Trouver une structure');
  const input = p.getByRole('combobox', { name: 'Votre commune' });
  await input.fill('');
  await input.pressSequentially('Thouars', { delay: 30 });
  await p.locator('[role=option]', { hasText: 'Thouars' }).first().waitFor({ timeout: STEP_TIMEOUT });
  await input.press('Enter');
  await p.locator('#nearest-result .structure').first().waitFor({ timeout: STEP_TIMEOUT });
  const nearest = await p.locator('#nearest-result').innerText();
  check(/Depuis Thouars \(79329\)/.test(nearest), `les résultats ne partent pas de Thouars : ${nearest.slice(0, 200)}`);
  const structures = await p.locator('#nearest-result .structure').count();
  check(structures >= 6, `trop peu de structures listées (${structures})`);
  check(/\d+,\d km à vol d'oiseau/.test(nearest), 'aucune distance au format « 4,9 km » dans la liste');
  check(/environ \d+ min en voiture/.test(nearest), 'aucun temps estimé dans la liste');
  check(/liste partielle/i.test(nearest), 'la liste partielle des MSP n’est pas signalée');
  check(/Centres? de santé/i.test(nearest) && /Pas de données/.test(nearest), 'les types sans données ne sont pas présentés comme indisponibles');
  check(!/EHPAD RESIDENCE|RUE MOLIERE|SITE HOSPITALIER/.test(nearest), `des noms ou adresses restent en capitales : ${nearest.slice(0, 400)}`);
  // Each « Voir sur la carte » names its structure.
  const labels = await p.locator('#nearest-result .show-on-map').evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-label')));
  check(labels.length === structures && labels.every((l) => /^Voir sur la carte : \S/.test(l)) && new Set(labels).size >= labels.length - 1,
    `les boutons « Voir sur la carte » ne nomment pas leur structure : ${labels.slice(0, 3).join(' | ')}`);
  check(await p.getByRole('button', { name: 'Voir sur la carte : EHPAD Residence Moliere' }).count() === 1, 'le bouton de l’EHPAD Résidence Molière n’a pas son nom');
  // The MSP named after a commune déléguée says so.
  const former = await p.locator('#nearest-result .former-commune').allInnerTexts();
  check(former.some((t) => /Mauzé-Thouarsais/.test(t) && /commune déléguée de Thouars/.test(t)), `la commune déléguée de Mauzé-Thouarsais n’est pas expliquée : ${former.join(' | ')}`);
  check(await p.evaluate(() => document.activeElement?.id) === 'nearest-heading', 'le focus ne va pas au titre des résultats');
  await waitMapIdle(p);
  await shot(p, '02-trouver.png');
  await axeCheck(p, 'Trouver, ordinateur');

  step = 'trouver une structure : Saumur, hors de la liste des MSP';
  log(step);
  await p.evaluate(() => { location.hash = '#trouver/49328'; });
  const mspSection = p.locator('#nearest-result section[data-kind=msp]');
  await mspSection.locator('.out-of-scope').waitFor({ timeout: STEP_TIMEOUT });
  const mspText = await mspSection.innerText();
  check(/Non couvert/.test(mspText) && /ne couvre pas ce département/.test(mspText) && /plus proches que la liste connaît/.test(mspText),
    `le « hors couverture » des MSP depuis Saumur n’est pas dit : ${mspText.slice(0, 300)}`);
  check(await p.locator('#nearest-result section[data-kind=ehpad] .out-of-scope').count() === 0, 'l’EHPAD est dit non couvert en Maine-et-Loire');
  check(/Psychiatrie/.test(await p.locator('#nearest-result').innerText()), 'la psychiatrie n’est pas listée');
  await waitMapIdle(p);
  await shot(p, '02b-trouver-saumur.png');

  step = 'territoire : CLS du Thouarsais';
  log(step);
  await tab(p, 'Territoire');
  check(!(await overlayOwners(p)).includes('trouver'), 'les tracés de « Trouver une structure » restent sur la carte');
  await pickSuggestion(p, p.getByRole('combobox', { name: 'Nom du territoire' }), 'thouarsais', 'CLS du Thouarsais');
  await p.locator('#territory-kinds').waitFor({ timeout: STEP_TIMEOUT });
  const summary = await p.locator('#view-territoire .result').innerText();
  check(/35\s?235 habitants/.test(summary.replace(/\u202f/g, ' ')), `population du CLS absente : ${summary.slice(0, 200)}`);
  check(/%/.test(await p.locator('#territory-kinds').innerText()), 'pas de part de population dans le tableau');
  await p.locator('#underserved-table').waitFor({ timeout: STEP_TIMEOUT });
  // Every Thouarsais commune is within 10 km of an MSP: ask for hospitals, then sort and export.
  await p.locator('#view-territoire').getByLabel('Type de structure').selectOption('hospital');
  await p.waitForFunction(() => document.querySelector('#underserved-table caption')?.textContent.includes('hôpital général'), null, { timeout: STEP_TIMEOUT });
  const rows = await p.locator('#underserved-table tbody tr:not(:has(td.empty))').count();
  check(rows >= 1, 'le tableau des communes mal desservies est vide');
  const firstPop = await p.locator('#underserved-table tbody tr').first().locator('td').nth(1).innerText();
  await p.locator('#underserved-table thead button', { hasText: 'Habitants' }).press('Enter');
  check(await p.locator('#underserved-table th[aria-sort=ascending]').count() === 1, 'le tri au clavier ne change pas aria-sort');
  const firstPopAfter = await p.locator('#underserved-table tbody tr').first().locator('td').nth(1).innerText();
  check(rows === 1 || firstPop !== firstPopAfter, 'le tri ne change pas l’ordre des lignes');
  const [download] = await Promise.all([
    p.waitForEvent('download', { timeout: STEP_TIMEOUT }),
    p.locator('.table-block', { has: p.locator('#underserved-table') }).getByRole('button', { name: 'Exporter en CSV' }).click(),
  ]);
  const csv = await readFile(await download.path(), 'utf8');
  check(/^\ufeff?Commune;Code INSEE;Habitants/.test(csv) && csv.trim().split('\n').length === rows + 1, `export CSV inattendu : ${csv.slice(0, 200)}`);
  log(`communes mal desservies (hôpital, 10 km) : ${rows} ; CSV ${download.suggestedFilename()}`);
  await waitMapIdle(p);
  await shot(p, '03-territoire.png');
  await axeCheck(p, 'Territoire, ordinateur');

  step = 'scénario : ajout d’une MSP';
  log(step);
  check((await overlayOwners(p)).includes('territoire'), 'le territoire choisi n’est pas tracé sur la carte');
  await tab(p, 'Scénario');
  check(!(await overlayOwners(p)).includes('territoire'), 'le contour du territoire reste sur la carte hors de sa vue');
  await waitMapIdle(p);
  check(await p.evaluate(() => window.careaccess.map.queryRenderedFeatures({ layers: ['sel-cls'] }).length) === 0, 'le contour du CLS est encore dessiné dans la vue Scénario');
  check(await p.locator('#scenario-result').getAttribute('data-state') === 'empty', 'le scénario ne part pas de zéro');
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.12, 46.9], zoom: 9 }); });
  await waitMapIdle(p);
  log('clic sur la carte en (-0,05 ; 46,85)');
  const site = await mapPoint(p, -0.05, 46.85);
  await p.mouse.click(site.x, site.y);
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  const gain1 = (await p.locator('#scenario-gain .big').innerText()).replace(/\s/g, '');
  log(`habitants nouvellement à moins de 10 km : ${gain1}`);
  check(/^\+\d+$/.test(gain1) && gain1 !== '+0', `le gain de population n'a pas changé (${gain1})`);
  check(await p.locator('#scenario-changed tbody tr').count() >= 1, 'aucune commune listée dans les changements');
  // A second site changes the numbers again.
  const site2 = await mapPoint(p, -0.3, 46.87);
  await p.mouse.click(site2.x, site2.y);
  await p.waitForFunction((g) => document.querySelector('#scenario-result')?.dataset.state === 'done'
    && document.querySelector('#scenario-gain .big')?.textContent.replace(/\s/g, '') !== g, gain1, { timeout: STEP_TIMEOUT });
  const gain2 = (await p.locator('#scenario-gain .big').innerText()).replace(/\s/g, '');
  log(`avec un second site : ${gain2}`);
  check(await p.locator('.change-list li').count() === 2, 'les deux changements ne sont pas listés');
  await waitMapIdle(p);
  await shot(p, '04-scenario.png');
  await axeCheck(p, 'Scénario, ordinateur');
  // The territory looked at is the one of the Territoire view: its numbers are the headline.
  const inside1 = await p.locator('#scenario-inside').innerText();
  check(/CLS du Thouarsais/.test(inside1), `le scénario ne met pas en tête le territoire de la vue Territoire : ${inside1.slice(0, 200)}`);
  // The accessibility deltas (`accessibility` member of the answer), per commune.
  await p.locator('#view-scenario').getByLabel('Seuil de proximité').selectOption('km:15');
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done' && document.querySelector('#scenario-accessibility'), null, { timeout: STEP_TIMEOUT });
  const accText = await p.locator('#scenario-accessibility').innerText();
  check(/Airvault/.test(accText) && /Avant/.test(accText), `les écarts d’accessibilité ne sont pas affichés : ${accText.slice(0, 200)}`);
  await p.locator('#scenario-reset').click();
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'empty');
  await p.locator('#view-scenario').getByLabel('Seuil de proximité').selectOption('km:10');

  step = 'scénario : une MSP regardée depuis le CLS du Thouarsais';
  log(step);
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.21, 47.07], zoom: 9 }); });
  await waitMapIdle(p);
  const site3 = await mapPoint(p, -0.21, 47.07);
  await p.mouse.click(site3.x, site3.y);
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  const inside = await p.locator('#scenario-inside').innerText();
  const outside = await p.locator('#scenario-out-of-scope').innerText();
  log(`en tête : ${inside.replace(/\s+/g, ' ').slice(0, 120)}`);
  check(/Dans CLS du Thouarsais/.test(inside) && /\d/.test(await p.locator('#scenario-inside-changed .big').innerText()), `l’en-tête du CLS manque : ${inside.slice(0, 200)}`);
  check(/Non couvert/.test(outside) && /habitants de \d+ communes dans des départements que la liste des MSP ne couvre pas/.test(outside.replace(/\u202f/g, ' ')),
    `la ligne « non couvert » manque : ${outside.slice(0, 200)}`);
  const order = await p.evaluate(() => {
    const a = document.querySelector('#scenario-inside');
    const b = document.querySelector('#scenario-gain');
    return Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  check(order, 'les totaux nationaux passent avant l’en-tête du territoire');
  await waitMapIdle(p);
  await shot(p, '04b-scenario-cls.png');
  await p.locator('#scenario-reset').click();
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'empty');

  step = 'territoire : Maine-et-Loire, hors de la liste des MSP';
  log(step);
  await tab(p, 'Territoire');
  await p.evaluate(() => { location.hash = '#territoire/departement/49'; });
  await p.waitForFunction(() => /Maine-et-Loire/.test(document.querySelector('#view-territoire .territory-name')?.textContent ?? '') && document.querySelector('#territory-kinds'), null, { timeout: STEP_TIMEOUT });
  const mspRow = await p.locator('#territory-kinds tr[data-kind=msp]').innerText();
  check(/—/.test(mspRow) && !/%/.test(mspRow), `la ligne MSP du Maine-et-Loire devrait montrer « — » : ${mspRow}`);
  const kindNotes = (await p.locator('#territory-kind-notes').innerText()).replace(/\u202f/g, ' ');
  check(/MSP — non couvert : 176 communes, 833 776 habitants hors de la liste/.test(kindNotes), `la note « non couvert » des MSP manque : ${kindNotes}`);
  check(/valeur connue pour 150 communes sur 176/.test(await p.locator('#territory-acc').innerText()), 'le nombre de communes avec une valeur d’accessibilité n’est pas dit');
  await p.locator('#view-territoire').getByLabel('Type de structure').selectOption('msp');
  await p.locator('#coverage-out-of-scope').waitFor({ timeout: STEP_TIMEOUT });
  check(/la liste des MSP ne couvre pas ce territoire/.test(await p.locator('#coverage-out-of-scope').innerText()), 'les communes mal desservies ne disent pas que la liste ne couvre pas le territoire');
  await waitMapIdle(p);
  await shot(p, '03b-territoire-49.png');

  step = 'territoire : Deux-Sèvres, APL et zonage des médecins';
  log(step);
  await p.evaluate(() => { location.hash = '#territoire/departement/79'; });
  await p.locator('#zonage-table').waitFor({ timeout: STEP_TIMEOUT });
  const zt = (await p.locator('#zonage-table').innerText()).replace(/\u202f/g, ' ');
  check(/éligible ZIP/.test(zt) && /vivier/.test(zt) && /ZIP/.test(zt) && /ZAC/.test(zt) && /\d hab\./.test(zt),
    `le tableau APL × zonage est incomplet : ${zt.slice(0, 300)}`);
  const agreement = await p.locator('#zonage-agreement').innerText();
  check(/à confirmer/.test(agreement) && /\d+,\d %|\d+ %/.test(agreement) && /concordent/.test(agreement), `l’accord APL / zonage n’est pas dit : ${agreement}`);
  check(/Limites de cette comparaison/.test(await p.locator('#territory-zonage details').innerText()), 'les limites de la comparaison ne sont pas données');
  const [zcsv] = await Promise.all([
    p.waitForEvent('download', { timeout: STEP_TIMEOUT }),
    p.locator('#territory-zonage').getByRole('button', { name: 'Exporter en CSV' }).click(),
  ]);
  const zonageCsv = await readFile(await zcsv.path(), 'utf8');
  check(/^\ufeff?Classe d’APL;ZIP : communes;ZIP : habitants/.test(zonageCsv), `export CSV APL × zonage inattendu : ${zonageCsv.slice(0, 200)}`);
  log(`APL × zonage (79) : ${agreement.replace(/\s+/g, ' ')}`);
  await p.locator('#zonage-heading').scrollIntoViewIfNeeded();
  await shot(p, '03c-territoire-79-zonage.png');
  await axeCheck(p, 'Territoire (APL × zonage), ordinateur');

  step = 'détail d’un calcul depuis la fenêtre d’une commune';
  log(step);
  await tab(p, 'Carte');
  check((await overlayOwners(p)).length === 0, `des tracés restent sur la vue Carte : ${await overlayOwners(p)}`);
  // Structure symbols sit on the chef-lieu: hide them (with their checkboxes) to click the commune.
  for (const k of ['msp', 'ehpad', 'hospital']) await p.locator(`#fac-toggle-${k}`).uncheck();
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.2153, 46.9816], zoom: 10 }); });
  await waitMapIdle(p);
  log('clic sur Thouars');
  const thouars = await mapPoint(p, -0.2153, 46.9816);
  await p.mouse.click(thouars.x, thouars.y);
  const popup = p.locator('.maplibregl-popup');
  await popup.waitFor({ timeout: STEP_TIMEOUT });
  const popupText = await popup.innerText();
  check(/Thouars/.test(popupText) && /km/.test(popupText), `fenêtre de la commune inattendue : ${popupText.slice(0, 200)}`);
  await shot(p, '05-fenetre-commune.png');
  await axeCheck(p, 'fenêtre d’une commune, ordinateur');
  // Escape closes the window; so does going to another view (it would cover it).
  await p.keyboard.press('Escape');
  await popup.waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
  await p.mouse.click(thouars.x, thouars.y);
  await popup.waitFor({ timeout: STEP_TIMEOUT });
  await tab(p, 'Territoire');
  check(await popup.count() === 0, 'la fenêtre de la commune reste ouverte sur une autre vue');
  check(await p.locator('#panel').evaluate((e) => e.scrollTop) === 0, 'la nouvelle vue ne s’ouvre pas en haut du panneau');
  await tab(p, 'Carte');
  // The Territoire view fitted its territory: back over Thouars before clicking it.
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.2153, 46.9816], zoom: 10 }); });
  await waitMapIdle(p);
  await p.mouse.click(thouars.x, thouars.y);
  await popup.waitFor({ timeout: STEP_TIMEOUT });
  await popup.getByRole('button', { name: 'Détail du calcul' }).click();
  await p.locator('#explain-table').waitFor({ timeout: STEP_TIMEOUT });
  check(/Thouars \(79329\)/.test(await p.locator('#explain-result h3').first().innerText()), 'le détail du calcul n’est pas celui de Thouars');
  check(await p.locator('#explain-table tbody tr').count() >= 1, 'aucun site dans le détail du calcul');
  check(await p.locator('#explain-result .check-ok').count() === 1, 'la somme des contributions ne retombe pas sur la valeur');
  // Opened from the DREES APL map: the DREES value first, then ours, and why they differ.
  await p.locator('#explain-drees').waitFor({ timeout: STEP_TIMEOUT });
  const drees = await p.locator('#explain-drees').innerText();
  check(/APL 2021, DREES/.test(drees) && /\d,\d/.test(drees) && /SNDS/.test(drees) && /SIRENE/.test(drees), `la valeur DREES et l’écart ne sont pas expliqués : ${drees.slice(0, 300)}`);
  check(await p.evaluate(() => Boolean(document.querySelector('#explain-drees').compareDocumentPosition(document.querySelector('#explain-value')) & Node.DOCUMENT_POSITION_FOLLOWING)),
    'la valeur DREES ne vient pas avant la nôtre');
  const fits = await p.locator('#explain-table').evaluate((t) => ({ table: t.scrollWidth, box: t.closest('.table-wrap').clientWidth }));
  check(fits.table <= fits.box + 1, `le tableau du détail déborde de son panneau (${fits.table} px pour ${fits.box} px)`);
  await waitMapIdle(p);
  await shot(p, '06-calcul.png');
  await axeCheck(p, 'Détail d’un calcul, ordinateur');

  step = 'détail d’un calcul : Tours, places en EHPAD sans capacité connue';
  log(step);
  await p.evaluate(() => { location.hash = '#calcul/37261/ehpad'; });
  await p.waitForFunction(() => /Tours/.test(document.querySelector('#explain-result h3')?.textContent ?? '') && document.querySelector('#explain-value'), null, { timeout: STEP_TIMEOUT });
  const toursValue = await p.locator('#explain-value').innerText();
  const toursFoot = await p.locator('#explain-table tfoot').innerText();
  check(/Pas de valeur/.test(toursValue) && /sans capacité connue/.test(toursValue) && !/^\s*0\b/.test(toursValue), `Tours (EHPAD) devrait dire pourquoi il n’y a pas de valeur : ${toursValue}`);
  check(/pas de valeur/.test(toursFoot) && !/\b0\s*$/.test(toursFoot.trim()), `la ligne de somme montre un nombre au lieu de la raison : ${toursFoot}`);
  check(/capacité inconnue/.test(await p.locator('#explain-table tbody').innerText()), 'les sites sans capacité ne disent pas « capacité inconnue »');
  await waitMapIdle(p);
  await shot(p, '06b-calcul-tours-ehpad.png');

  step = 'erreur du service affichée';
  log(step);
  // The limits come from the service's OpenAPI document: lowered here to see the page follow.
  const apiDoc = (u) => u.pathname === '/api';
  await p.route(apiDoc, async (route) => {
    const res = await route.fetch();
    const spec = await res.json();
    spec.components.schemas.Scenario.properties.changes.maxItems = 1;
    spec.paths['/nearest'].get.parameters.find((x) => x.name === 'k').schema.maximum = 5;
    await route.fulfill({ response: res, json: spec });
  });
  await p.goto(`${BASE}#calcul/99999/mg`);
  await p.reload(); // a new page load (the hash alone does not reload), which reads the lowered limits
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  const err = p.locator('#explain-result [role=alert]');
  await err.waitFor({ timeout: STEP_TIMEOUT });
  const errText = await err.innerText();
  check(/Erreur du service/.test(errText) && /aucune commune n’a le code « 99999 »/.test(errText), `l'erreur n'est pas expliquée : ${errText}`);
  check(!/\b(is|not|parameter|the)\b/.test(errText), `l'erreur affiche de l’anglais hors du détail technique : ${errText}`);
  check(await err.locator('details summary', { hasText: 'Détail technique' }).count() === 1, 'le texte du service n’est pas rangé sous « Détail technique »');
  await shot(p, '07-erreur.png');

  step = 'limites lues dans /api';
  log(step);
  const kOptions = await p.locator('#view-trouver').getByLabel('Structures par type').locator('option').allTextContents();
  check(kOptions.join(',') === '1,3,5', `choix du nombre de structures inattendu avec un maximum de 5 : ${kOptions}`);
  await tab(p, 'Scénario');
  for (const [lon, lat] of [[-0.05, 46.85], [1.5, 47.5]]) {
    const pt = await mapPoint(p, lon, lat);
    await p.mouse.click(pt.x, pt.y);
  }
  await p.waitForFunction(() => /Au plus 1 changement par scénario/.test(document.querySelector('#map-hint')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT });
  check(await p.locator('.change-list li').count() === 1, 'le scénario dépasse la limite donnée par /api');
  await p.unroute(apiDoc);

  await plannerList(p);
  await savedWork(browser, context);

  step = 'portrait de territoire : CLS du Thouarsais, imprimé en PDF';
  log(step);
  await portrait(context);
  await context.close();
}

const PLANNER_TOKEN = process.env.CAREACCESS_PLANNER_TOKEN ?? '';

/** Enters the planner's token in « Se connecter avec un jeton » (the first one shown). */
async function signIn(p, where) {
  await p.locator(`${where} .account`).getByRole('button', { name: 'Se connecter avec un jeton' }).click();
  const dlg = p.locator('#token-dialog');
  await dlg.waitFor({ timeout: STEP_TIMEOUT });
  check(await p.evaluate(() => document.activeElement?.type === 'password'), 'le champ du jeton n’a pas le focus à l’ouverture');
  await dlg.getByLabel('Jeton d’accès').fill(PLANNER_TOKEN);
  await dlg.getByRole('button', { name: 'Se connecter' }).click();
  await dlg.waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
}

/**
 * Issue 16, saved work: a planner saves a scenario, its share link opened in a new page
 * (another browser profile, no token) shows the same numbers; a polygon drawn around
 * Thouars is saved as a perimeter whose coverage the Territoire view shows, and its link
 * #territoire/perimeter/<id> opens it again. Skipped (said) without a planner's token.
 */
async function savedWork(browser, context) {
  if (!PLANNER_TOKEN) {
    log('travaux enregistrés : pas de CAREACCESS_PLANNER_TOKEN, étape sautée');
    return;
  }
  step = 'travaux enregistrés : un mauvais jeton est refusé en français';
  log(step);
  const p = await context.newPage();
  await watch(p);
  await p.goto(`${BASE}#scenario`);
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  // Signed out (an earlier step kept the token in this browser profile).
  await p.evaluate(() => localStorage.removeItem('careaccess.jeton'));
  await p.reload();
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  await p.locator('#my-scenarios .account').getByRole('button', { name: 'Se connecter avec un jeton' }).click();
  const dlg = p.locator('#token-dialog');
  await dlg.getByLabel('Jeton d’accès').fill('ca_mauvais');
  await dlg.getByRole('button', { name: 'Se connecter' }).click();
  await dlg.locator('.error', { hasText: 'Jeton refusé' }).waitFor({ timeout: STEP_TIMEOUT });
  check(await dlg.locator('details summary', { hasText: 'Détail technique' }).count() === 1, 'le refus du jeton ne range pas le texte du service sous « Détail technique »');
  await shot(p, '15a-jeton-refuse.png');
  await axeCheck(p, 'dialogue du jeton, ordinateur');
  await p.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: STEP_TIMEOUT });

  step = 'travaux enregistrés : enregistrer et partager un scénario';
  log(step);
  await signIn(p, '#my-scenarios');
  await p.locator('#my-scenarios .badge', { hasText: 'Connecté' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.12, 46.9], zoom: 9 }); });
  await waitMapIdle(p);
  const site = await mapPoint(p, -0.05, 46.85);
  await p.mouse.click(site.x, site.y);
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  const gain = (await p.locator('#scenario-gain .big').innerText()).replace(/\s/g, '');
  await p.locator('#scenario-share').click();
  const nameDlg = p.locator('#scenario-name-dialog');
  await nameDlg.waitFor({ timeout: STEP_TIMEOUT });
  await nameDlg.getByLabel('Nom du scénario').fill('MSP à Saint-Varent (test)');
  await nameDlg.getByRole('button', { name: 'Enregistrer' }).click();
  const link = p.locator('#scenario-share-link');
  await link.waitFor({ timeout: STEP_TIMEOUT });
  const url = await link.getAttribute('href');
  check(/#scenario=[0-9a-f]+$/.test(url), `lien de partage inattendu : ${url}`);
  await p.locator('#my-scenarios li', { hasText: 'MSP à Saint-Varent (test)' }).waitFor({ timeout: STEP_TIMEOUT });
  log(`scénario enregistré, gain ${gain}, lien ${url}`);

  step = 'travaux enregistrés : le lien partagé dans une nouvelle page';
  log(step);
  const other = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'fr-FR' });
  const q = await other.newPage();
  await watch(q);
  await q.goto(url);
  await q.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  await q.locator('#scenario-opened').waitFor({ timeout: STEP_TIMEOUT });
  await q.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  const gain2 = (await q.locator('#scenario-gain .big').innerText()).replace(/\s/g, '');
  check(gain2 === gain, `le lien partagé ne donne pas les mêmes chiffres : ${gain2} au lieu de ${gain}`);
  const opened = await q.locator('#scenario-opened').innerText();
  check(/MSP à Saint-Varent \(test\)/.test(opened) && /sur les données/.test(opened), `le scénario ouvert ne dit pas quand ni sur quelles données il a été enregistré : ${opened}`);
  const sites = await q.locator('.change-list li').count();
  check(sites === 1, `le lien partagé ne remet pas le site du scénario (${sites})`);
  await waitMapIdle(q);
  await shot(q, '15b-scenario-partage.png');
  await axeCheck(q, 'scénario partagé, ordinateur');
  await other.close();

  step = 'travaux enregistrés : un polygone autour de Thouars devient un périmètre';
  log(step);
  await p.evaluate(() => { location.hash = '#territoire'; });
  await p.locator('#perimeter-create summary').click();
  await p.getByLabel('Nom du périmètre').fill('Autour de Thouars (test)');
  await p.getByLabel('Polygone dessiné sur la carte').check();
  await p.locator('#perimeter-draw-start').click();
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.215, 46.976], zoom: 10 }); });
  await waitMapIdle(p);
  for (const [lon, lat] of [[-0.30, 46.93], [-0.13, 46.93], [-0.13, 47.03], [-0.30, 47.03]]) {
    const pt = await mapPoint(p, lon, lat);
    await p.mouse.click(pt.x, pt.y);
  }
  await p.locator('#perimeter-draw-status', { hasText: '4 sommets' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.locator('#perimeter-draw-finish').click();
  await p.locator('#perimeter-draw-status', { hasText: 'Polygone fermé' }).waitFor({ timeout: STEP_TIMEOUT });
  await waitMapIdle(p);
  await shot(p, '16a-perimetre-dessin.png');
  await axeCheck(p, 'Territoire, création d’un périmètre');
  await p.locator('#perimeter-save').click();
  await p.waitForFunction(() => /^#territoire\/perimeter\/[0-9a-f]+$/.test(location.hash), null, { timeout: STEP_TIMEOUT });
  const hash = await p.evaluate(() => location.hash);
  await p.locator('#view-territoire .territory-name', { hasText: 'Autour de Thouars (test)' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.locator('#underserved-table').waitFor({ timeout: STEP_TIMEOUT });
  const facts = await p.locator('#view-territoire .facts').innerText();
  check(/Communes\s*\d+/.test(facts), `le résumé du périmètre ne compte pas ses communes : ${facts}`);
  const coverage = await p.locator('#view-territoire .coverage').innerText();
  log(`périmètre ${hash} : ${facts.replace(/\s+/g, ' ')} ; ${coverage.split('\n')[0]}`);
  await p.locator('#my-perimeters li', { hasText: 'Autour de Thouars (test)' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.waitForFunction((h) => document.querySelector('#perimeters')?.dataset.outline === h.split('/').pop(), hash, { timeout: STEP_TIMEOUT });
  await waitMapIdle(p);
  await shot(p, '16b-perimetre-territoire.png');
  await axeCheck(p, 'Territoire, périmètre enregistré');
  await tab(p, 'Carte');
  check(!(await p.locator('#perimeters').getAttribute('data-outline')), 'le contour du périmètre reste sur la carte hors de la vue Territoire');

  step = 'travaux enregistrés : lien direct vers le périmètre';
  log(step);
  const r = await context.newPage();
  await watch(r);
  await r.goto(`${BASE}${hash}`);
  await r.locator('#view-territoire .territory-name', { hasText: 'Autour de Thouars (test)' }).waitFor({ timeout: STEP_TIMEOUT });
  await r.close();
  await p.close();
}

/**
 * « Mes listes » (issue 16): a planner uploads the 6-row MSP CSV of the CLS du
 * Thouarsais, sees the report (5 kept, 1 skipped and why) before saving, saves it, sees
 * its points on the map as their own layer with « liste fournie par … », and the CLS
 * coverage computed with « ma liste ». Then the list everywhere an analysis is: the
 * Territoire summary marks the MSP entries computed with it, a scenario adding an MSP at
 * Oiron runs with « les deux » then « ma liste seule » and says so, a structure of the
 * list is removed by a click, Détail d'un calcul counts the list's sites, and the
 * scenario saved with its list, opened from its link in another browser profile (no
 * token: the private list cannot be read there), says which list it was computed with.
 */
async function plannerList(p) {
  step = 'mes listes : MSP du Thouarsais déposées, vérifiées, enregistrées';
  log(step);
  const token = process.env.CAREACCESS_PLANNER_TOKEN;
  if (!token) {
    problems.push(`${step} : pas de jeton (CAREACCESS_PLANNER_TOKEN) — étape non jouée`);
    return;
  }
  await p.evaluate((t) => localStorage.setItem('careaccess.jeton', t), token);
  await p.goto(`${BASE}#territoire/cls/thouarsais`);
  // A new page load: the step before lowered the limits read from /api (one change per scenario).
  await p.reload();
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  await p.locator('#territory-means').waitFor({ timeout: STEP_TIMEOUT });
  await p.locator('#lists-panel > summary').click();
  await p.locator('#lists-panel input[type=file]').setInputFiles(path.join(repo, 'tests', 'fixtures', 'layers', 'msp_thouarsais.csv'));
  await p.locator('#list-col-name').waitFor({ timeout: STEP_TIMEOUT });
  const guessed = await p.evaluate(() => Object.fromEntries(['name', 'lon', 'lat', 'insee', 'capacity', 'address', 'phone', 'crs']
    .map((k) => [k, document.getElementById(`list-col-${k}`)?.value ?? document.getElementById(`list-${k}`)?.value])));
  check(guessed.name === 'nom' && guessed.lon === 'longitude' && guessed.lat === 'latitude' && guessed.insee === 'code_insee'
    && guessed.capacity === 'nb_professionnels' && guessed.phone === 'telephone' && guessed.crs === '', `colonnes mal devinées : ${JSON.stringify(guessed)}`);
  check(await p.locator('#list-save').isDisabled(), 'on peut enregistrer avant d’avoir vu le rapport');
  await p.locator('#list-preview').click();
  await p.waitForFunction(() => /retenue/.test(document.querySelector('#list-report-summary')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT });
  const summary = await p.locator('#list-report-summary').innerText();
  check(/5 lignes retenues sur 6 lues, 1 écartée/.test(summary), `rapport inattendu : ${summary}`);
  const skipped = await p.locator('#list-skipped').innerText();
  check(/7/.test(skipped) && /code INSEE inconnu/.test(skipped), `ligne écartée non expliquée : ${skipped}`);
  await shot(p, '08-liste-rapport.png');
  check(await p.locator('#lists-panel input[type=text]').first().inputValue() === 'cls:thouarsais', 'le territoire de la liste n’est pas proposé');
  await p.locator('#list-save').click();
  await p.waitForFunction(() => /enregistrée/.test(document.querySelector('#list-status')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT });
  await waitMapIdle(p);
  const drawnList = await p.evaluate(() => {
    const m = window.careaccess.map;
    const layers = m.getStyle().layers.map((l) => l.id).filter((id) => /^liste-.*-points$/.test(id));
    return { layers, points: layers.length ? m.queryRenderedFeatures({ layers }).length : 0 };
  });
  check(drawnList.layers.length === 1 && drawnList.points >= 4, `la liste n'est pas dessinée à part sur la carte : ${JSON.stringify(drawnList)}`);
  const legendList = await p.locator('#list-legend').innerText();
  check(/liste fournie par Test navigateur \(planificateur\), \d\d\/\d\d\/\d{4}/.test(legendList), `légende de la liste : ${legendList}`);
  await p.locator('#list-use').selectOption('list');
  await p.waitForFunction(() => /ma liste seule/.test(document.querySelector('#coverage-facilities')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT });
  const used = await p.locator('#coverage-facilities').innerText();
  check(/complète pour cls:thouarsais/.test(used), `la couverture ne dit pas quelle liste elle utilise : ${used}`);
  await shot(p, '08-liste-couverture.png');
  await axeCheck(p, 'mes listes');
  await listEverywhere(p);
  // Back to the official structures for the steps that follow.
  await p.locator('#list-use').selectOption('official');
}

/** The MSP rows of the Territoire summary (shares and accessibility) and what they say of the list. */
async function mspEntries(p) {
  return p.evaluate(() => {
    const kind = document.querySelector('#territory-kinds tr[data-kind=msp]');
    const acc = document.querySelector('#territory-acc tr[data-profile=msp]');
    return {
      kind: kind?.dataset.facilities, kindText: kind?.querySelector('th')?.textContent ?? '',
      acc: acc?.dataset.facilities ?? null, accText: acc?.querySelector('th')?.textContent ?? '',
      line: document.querySelector('#territory-facilities')?.textContent ?? '',
    };
  });
}

async function listEverywhere(p) {
  const listName = await p.locator('#list-chosen option:checked').innerText().then((t) => t.split(' — ')[0]);
  step = 'mes listes : résumé du territoire avec « les deux »';
  log(step);
  await p.locator('#list-use').selectOption('both');
  await p.waitForFunction(() => /officielles et la liste/.test(document.querySelector('#territory-facilities')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT });
  let msp = await mspEntries(p);
  check(msp.kind === 'both' && /officielles \+ la liste/.test(msp.kindText), `la ligne MSP du résumé ne dit pas qu’elle compte la liste : ${JSON.stringify(msp)}`);
  check(msp.acc === null || (msp.acc === 'both' && /la liste/.test(msp.accText)), `l’accessibilité aux MSP ne dit pas qu’elle compte la liste : ${JSON.stringify(msp)}`);
  check(msp.line.includes(`« ${listName} »`), `le résumé ne nomme pas la liste « ${listName} » : ${msp.line}`);

  step = 'mes listes : scénario d’une MSP à Oiron avec « les deux »';
  log(step);
  await tab(p, 'Scénario');
  await p.locator('#scenario-structures', { hasText: 'les structures officielles et la liste' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.13, 46.97], zoom: 10 }); });
  await waitMapIdle(p);
  const oiron = await mapPoint(p, -0.0786, 46.9485);
  await p.mouse.click(oiron.x, oiron.y);
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  const both = await p.locator('#scenario-facilities').innerText();
  check(both.includes(`les structures officielles et la liste « ${listName} »`) && /liste fournie par/.test(both), `le scénario ne dit pas qu’il compte la liste : ${both}`);
  check(await p.locator('#scenario-inside').count() === 1 && await p.locator('#scenario-gain .big').count() === 1, 'le résultat du scénario avec la liste est vide');
  log(`scénario (les deux) : ${both.replace(/\s+/g, ' ')} ; gain ${(await p.locator('#scenario-gain .big').innerText()).replace(/\s/g, '')}`);

  step = 'mes listes : le même scénario avec « ma liste seule »';
  log(step);
  await tab(p, 'Territoire');
  await p.locator('#list-use').selectOption('list');
  await p.waitForFunction(() => /la liste « .* » seule/.test(document.querySelector('#territory-facilities')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT });
  msp = await mspEntries(p);
  check(msp.kind === 'list' && /avec la liste seule/.test(msp.kindText), `la ligne MSP du résumé ne dit pas « avec la liste seule » : ${JSON.stringify(msp)}`);
  check(msp.acc === null || (msp.acc === 'list' && /la liste/.test(msp.accText)), `l’accessibilité aux MSP ne dit pas qu’elle vient de la liste : ${JSON.stringify(msp)}`);
  await p.locator('#territory-kinds').scrollIntoViewIfNeeded();
  await shot(p, '08c-liste-resume.png');
  await tab(p, 'Scénario');
  await p.waitForFunction((n) => document.querySelector('#scenario-result')?.dataset.state === 'done'
    && document.querySelector('#scenario-facilities')?.textContent.includes(`la liste « ${n} » seule`), listName, { timeout: STEP_TIMEOUT });
  const changedRows = await p.locator('#scenario-changed tbody tr:not(:has(td.empty))').count();
  log(`scénario (liste seule) : ${changedRows} commune(s) changent de MSP la plus proche`);
  check(await p.locator('#scenario-structures').getByRole('button', { name: 'Revenir aux structures officielles' }).count() === 1, 'le scénario n’offre pas de revenir aux structures officielles');
  // The siting suggestions start from the same structures.
  await p.locator('#view-scenario details.siting > summary').click();
  await p.locator('#view-scenario details.siting').getByRole('button', { name: 'Proposer des emplacements' }).click();
  await p.locator('#siting-facilities').waitFor({ timeout: STEP_TIMEOUT });
  const siting = await p.locator('#siting-result').innerText();
  check(siting.includes(`la liste « ${listName} » seule`) && /CLS du Thouarsais/.test(siting), `les suggestions ne disent pas qu’elles partent de la liste : ${siting.slice(0, 300)}`);
  log(`suggestions avec la liste : ${siting.replace(/\s+/g, ' ').slice(0, 160)}`);
  await p.locator('#view-scenario details.siting > summary').click();
  // A structure of the list is removed by a click, like an official one.
  await p.locator('#view-scenario').getByLabel('retire la structure existante cliquée (symbole)').check();
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.2148, 46.9755], zoom: 11 }); });
  await waitMapIdle(p);
  const listed = await mapPoint(p, -0.2148, 46.9755);
  await p.mouse.click(listed.x, listed.y);
  await p.locator('.change-list li', { hasText: 'Retrait : MSP Thouars centre-ville (liste)' }).waitFor({ timeout: STEP_TIMEOUT });
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  check(await p.locator('#scenario-changed tbody tr:not(:has(td.empty))').count() >= 1, 'retirer une MSP de la liste ne change la structure la plus proche d’aucune commune');
  await p.locator('#view-scenario').getByLabel('ajoute une structure hypothétique à cet endroit').check();
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.15, 46.97], zoom: 10 }); });
  await waitMapIdle(p);
  await shot(p, '08d-liste-scenario.png');
  await axeCheck(p, 'Scénario avec une liste, ordinateur');
  // The same on a phone's width.
  await p.setViewportSize({ width: 390, height: 844 });
  await p.locator('#scenario-structures').scrollIntoViewIfNeeded();
  const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(over <= 1, `le scénario avec une liste déborde de ${over} px sur un téléphone`);
  await p.screenshot({ path: path.join(SHOTS, '08e-telephone-liste-scenario.png'), fullPage: true });
  log('capture : tests/artifacts/screenshots/08e-telephone-liste-scenario.png');
  await axeCheck(p, 'Scénario avec une liste, téléphone');
  await p.setViewportSize({ width: 1280, height: 800 });

  step = 'mes listes : le scénario enregistré avec sa liste, ouvert ailleurs';
  log(step);
  await p.locator('#scenario-share').click();
  const nameDlg = p.locator('#scenario-name-dialog');
  await nameDlg.waitFor({ timeout: STEP_TIMEOUT });
  await nameDlg.getByLabel('Nom du scénario').fill('MSP à Oiron avec ma liste (test)');
  await nameDlg.getByRole('button', { name: 'Enregistrer' }).click();
  const link = p.locator('#scenario-share-link');
  await link.waitFor({ timeout: STEP_TIMEOUT });
  const url = await link.getAttribute('href');
  const gain = (await p.locator('#scenario-gain .big').innerText()).replace(/\s/g, '');
  const other = await p.context().browser().newContext({ viewport: { width: 1280, height: 800 }, locale: 'fr-FR' });
  const q = await other.newPage();
  await watch(q);
  await q.goto(url);
  await q.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: STEP_TIMEOUT });
  await q.locator('#scenario-opened-structures').waitFor({ timeout: STEP_TIMEOUT });
  await q.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  const opened = await q.locator('#scenario-opened-structures').innerText();
  check(opened.includes(`la liste « ${listName} » seule`), `le scénario ouvert ne dit pas avec quelle liste il a été calculé : ${opened}`);
  // The list is private: this browser shows the saved numbers, and says so.
  check(await q.locator('#scenario-not-recomputed').count() === 1, 'le scénario ouvert sans le jeton ne dit pas que ses chiffres sont ceux de l’enregistrement');
  const facilities = await q.locator('#scenario-facilities').innerText();
  check(facilities.includes(`la liste « ${listName} » seule`), `le résultat ouvert ne nomme pas la liste : ${facilities}`);
  const gain2 = (await q.locator('#scenario-gain .big').innerText()).replace(/\s/g, '');
  check(gain2 === gain, `le scénario ouvert ailleurs ne donne pas les mêmes chiffres : ${gain2} au lieu de ${gain}`);
  check(await q.locator('.change-list li').count() === 2, 'le scénario ouvert ne remet pas ses deux changements');
  await waitMapIdle(q);
  await q.locator('#scenario-opened').scrollIntoViewIfNeeded();
  await shot(q, '08f-liste-scenario-partage.png');
  await axeCheck(q, 'scénario partagé avec une liste');
  await other.close();

  step = 'mes listes : détail d’un calcul avec la liste';
  log(step);
  await p.locator('#scenario-reset').click();
  await p.evaluate(() => { location.hash = '#calcul/79329/msp'; });
  await p.locator('#explain-facilities').waitFor({ timeout: STEP_TIMEOUT });
  const explain = await p.locator('#explain-facilities').innerText();
  check(explain.includes(`la liste « ${listName} » seule`), `le détail du calcul ne nomme pas la liste : ${explain}`);
  const fromList = await p.locator('#explain-table tbody tr', { hasText: 'de la liste' }).count();
  check(fromList >= 1, 'aucun site de la liste dans le détail du calcul');
  await waitMapIdle(p);
  await shot(p, '08g-liste-calcul.png');

  step = 'mes listes : la fenêtre d’une structure de la liste';
  log(step);
  await tab(p, 'Carte');
  await p.evaluate(() => { window.careaccess.map.jumpTo({ center: [-0.2148, 46.9755], zoom: 11 }); });
  await waitMapIdle(p);
  const at = await mapPoint(p, -0.2148, 46.9755);
  await p.mouse.click(at.x, at.y);
  const popup = p.locator('.maplibregl-popup');
  await popup.waitFor({ timeout: STEP_TIMEOUT });
  const popupText = await popup.innerText();
  check(/MSP Thouars centre-ville/.test(popupText) && popupText.includes(`liste « ${listName} »`) && /liste fournie par/.test(popupText),
    `la fenêtre d’une structure de la liste ne dit pas de quelle liste elle vient : ${popupText.slice(0, 300)}`);
  await shot(p, '08h-liste-fenetre.png');
  await axeCheck(p, 'fenêtre d’une structure de la liste');
  await p.keyboard.press('Escape');
  await tab(p, 'Territoire');
}

/**
 * « Portrait de territoire » of the Thouarsais CLS: self-contained (no request but the
 * document), numbered figures, and Chromium's print gives a PDF of a sensible number of
 * A4 pages (tests/artifacts/portrait-thouarsais.pdf, first page as a screenshot).
 */
async function portrait(context) {
  const p = await context.newPage();
  await watch(p);
  const asked = [];
  p.on('request', (r) => asked.push(r.url()));
  const res = await p.goto(`${BASE}territories/cls/thouarsais/report`, { waitUntil: 'load' });
  check(res?.ok() && (res.headers()['content-type'] ?? '').startsWith('text/html'), `le portrait a répondu ${res?.status()} ${res?.headers()['content-type']}`);
  check(asked.length === 1, `le portrait charge d'autres ressources : ${asked.slice(1, 5).join(', ')}`);
  const figures = await p.locator('figure').count();
  check(figures >= 3, `le portrait n'a que ${figures} figures`);
  check(/Figure 1/.test(await p.locator('body').innerText()), 'les figures du portrait ne sont pas numérotées');
  await p.screenshot({ path: path.join(SHOTS, '14-portrait.png') });
  await p.emulateMedia({ media: 'print' });
  const pdf = await p.pdf({ format: 'A4', printBackground: true, path: path.join(ART, 'portrait-thouarsais.pdf') });
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
  log(`portrait imprimé : ${pages} pages A4, ${Math.round(pdf.length / 1024)} ko`);
  check(pages >= 3 && pages <= 40, `le portrait imprimé fait ${pages} pages A4`);
  const cuts = await cutAcrossPages(p, path.join(ART, 'portrait-thouarsais-marked.pdf'));
  log(`portrait : ${cuts.checked} éléments vérifiés sur les pages imprimées`);
  check(cuts.missing.length === 0, `marqueurs du portrait absents du PDF : ${cuts.missing.slice(0, 5).join(' ; ')}`);
  check(cuts.cut.length === 0, `le portrait imprimé coupe entre deux pages : ${cuts.cut.slice(0, 5).join(' ; ')}`);
  await p.close();
}

/**
 * What Chromium's print cuts across A4 pages: every figure and every table not marked
 * `long` (whole), every table row (a long table splits between rows only), and every
 * heading (on the same page as what follows it). The layout of a print is only known once
 * paginated, so each element gets a start and an end marker (tiny white text, placed
 * absolutely: the layout does not move), the page is printed again, and `pdftotext` says
 * on which page each marker landed. Returns `{ checked, cut, missing }`.
 */
async function cutAcrossPages(p, pdfPath) {
  const marked = await p.evaluate(() => {
    const mark = (el, text, atEnd) => {
      const s = document.createElement('span');
      s.textContent = ` ${text} `;
      s.setAttribute('aria-hidden', 'true');
      // At the page's left edge (an end marker after right-aligned text would fall off the page
      // and out of the PDF), at its own height in the flow.
      s.style.cssText = 'position:absolute;left:0;font-size:2px;line-height:1;color:#fff;white-space:nowrap';
      if (atEnd) el.append(s); else el.prepend(s);
    };
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} « ${(el.textContent ?? '').replace(/QQ[SE]\d+QQ/g, '').trim().slice(0, 40)} »`;
    const out = [];
    const pair = (start, end, what) => {
      const k = out.length;
      mark(start, `QQS${k}QQ`, false);
      mark(end, `QQE${k}QQ`, true);
      out.push(what);
    };
    for (const el of document.querySelectorAll('figure, table:not(.long)')) pair(el, el, name(el));
    for (const tr of document.querySelectorAll('table tr')) {
      const cells = tr.querySelectorAll('th, td');
      if (cells.length) pair(cells[0], cells[cells.length - 1], `ligne de ${name(tr.closest('table'))} : ${name(tr)}`);
    }
    for (const h of document.querySelectorAll('h2, h3')) {
      const next = h.nextElementSibling;
      if (next) pair(h, next, `titre ${name(h)} seul en bas de page`);
    }
    return out;
  });
  await p.pdf({ format: 'A4', printBackground: true, path: pdfPath });
  const pages = execFileSync('pdftotext', ['-raw', pdfPath, '-'], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\f');
  const where = new Map();
  pages.forEach((text, i) => {
    for (const m of text.matchAll(/QQ([SE]\d+)QQ/g)) if (!where.has(m[1])) where.set(m[1], i + 1);
  });
  const cut = [];
  const missing = [];
  marked.forEach((what, k) => {
    const [a, b] = [where.get(`S${k}`), where.get(`E${k}`)];
    if (a === undefined || b === undefined) missing.push(what);
    else if (a !== b) cut.push(`${what} (pages ${a}–${b})`);
  });
  return { checked: marked.length, cut, missing };
}

async function phone(browser) {
  step = 'téléphone (390 px)';
  log(step);
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'fr-FR',
    geolocation: { latitude: 46.9766, longitude: -0.2787 }, permissions: ['geolocation'],
  });
  page = await context.newPage();
  const p = page;
  await watch(p);
  countBytes(p);
  await p.goto(`${BASE}#trouver/79329`, { waitUntil: 'domcontentloaded' });
  await p.locator('#nearest-result .structure').first().waitFor({ timeout: STEP_TIMEOUT * 2 });
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `la page déborde de ${overflow} px en largeur sur un téléphone`);
  await p.waitForFunction(() => ['drawn', 'error'].includes(document.documentElement.dataset.communes), null, { timeout: LOAD_TIMEOUT });
  await p.waitForFunction(() => document.documentElement.dataset.colouredAt, null, { timeout: STEP_TIMEOUT }).catch(() => {});
  await firstViewFigures(p, 'téléphone');
  await waitMapIdle(p);
  await shot(p, '08-telephone-trouver.png');
  await p.locator('#nearest-result').scrollIntoViewIfNeeded();
  await p.screenshot({ path: path.join(SHOTS, '09-telephone-liste.png'), fullPage: true });
  log('capture : tests/artifacts/screenshots/09-telephone-liste.png');
  await axeCheck(p, 'Trouver, téléphone');

  step = 'téléphone : une recherche amène les résultats à l’écran';
  log(step);
  await p.evaluate(() => window.scrollTo(0, 0));
  await pickSuggestion(p, p.getByRole('combobox', { name: 'Votre commune' }), 'Bressuire', 'Bressuire');
  await p.locator('#nearest-heading', { hasText: 'Bressuire' }).waitFor({ timeout: STEP_TIMEOUT });
  const firstResult = p.locator('#nearest-result .structure').first();
  await p.waitForFunction(() => { const e = document.querySelector('#nearest-result .structure'); const r = e?.getBoundingClientRect(); return r && r.top >= 0 && r.top < window.innerHeight - 20; }, null, { timeout: 10_000 })
    .catch(() => {});
  check(await onScreen(firstResult), 'après une recherche sur le téléphone, le premier résultat n’est pas à l’écran');
  check(await p.evaluate(() => document.activeElement?.id) === 'nearest-heading', 'le focus ne va pas au titre des résultats sur le téléphone');
  await shot(p, '09a-telephone-resultats.png');
  await p.locator('#nearest-result .show-on-map').first().click();
  await p.locator('.maplibregl-popup').waitFor({ timeout: STEP_TIMEOUT });
  check(await p.evaluate(() => { const r = document.querySelector('.map-area').getBoundingClientRect(); return r.top >= -1 && r.top < window.innerHeight / 2 && r.bottom > 0; }),
    '« Voir sur la carte » n’amène pas la carte à l’écran sur le téléphone');
  await waitMapIdle(p);
  await shot(p, '09b-telephone-voir-sur-la-carte.png');
  await axeCheck(p, 'fenêtre d’une structure, téléphone');
  const popupBox = await p.locator('.maplibregl-popup').evaluate((e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, w: window.innerWidth }; });
  check(popupBox.left >= -1 && popupBox.right <= popupBox.w + 1, `la fenêtre de la structure sort de l’écran du téléphone (${Math.round(popupBox.left)}–${Math.round(popupBox.right)} px)`);
  // A structure at its commune's chef-lieu hides the commune under it: its popup leads there.
  const popupText = await p.locator('.maplibregl-popup').innerText();
  check(!/Position\s*:?\s*position/i.test(popupText), `« Position position » dans la fenêtre : ${popupText.slice(0, 200)}`);
  const communeButton = p.locator('.maplibregl-popup').getByRole('button', { name: /^La commune : / });
  const communeName = (await communeButton.innerText()).replace(/^La commune : /, '');
  await communeButton.click();
  await p.locator('.maplibregl-popup .popup-title', { hasText: communeName }).waitFor({ timeout: STEP_TIMEOUT });
  log(`fenêtre de la commune depuis la structure : ${communeName}`);

  step = 'téléphone : utiliser ma position nomme la commune';
  log(step);
  await p.keyboard.press('Escape');
  await p.getByRole('button', { name: 'Utiliser ma position' }).click();
  await p.locator('#nearest-heading', { hasText: 'Position : Thouars (79329)' }).waitFor({ timeout: STEP_TIMEOUT });
  check(await onScreen(p.locator('#nearest-heading')), 'le résultat de « Utiliser ma position » n’est pas à l’écran');
  await shot(p, '09c-telephone-position.png');
  await p.getByRole('tab', { name: 'Carte' }).click();
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.waitForFunction(() => ['drawn', 'error'].includes(document.documentElement.dataset.communes), null, { timeout: LOAD_TIMEOUT });
  await waitMapIdle(p);
  await shot(p, '10-telephone-carte.png');
  await axeCheck(p, 'Carte, téléphone');
  await p.evaluate(() => { location.hash = '#territoire/departement/49'; });
  await p.locator('#territory-kind-notes').waitFor({ timeout: STEP_TIMEOUT });
  await p.locator('#coverage-out-of-scope').waitFor({ timeout: STEP_TIMEOUT });
  const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow2 <= 1, `la vue Territoire déborde de ${overflow2} px en largeur sur un téléphone`);
  check(await onScreen(p.locator('#view-territoire .territory-name')), 'le territoire choisi n’est pas amené à l’écran sur le téléphone');
  // Captions wrap instead of being cut; wide tables say they scroll.
  const cut = await p.evaluate(() => [...document.querySelectorAll('#view-territoire caption')].filter((c) => c.getBoundingClientRect().right > window.innerWidth + 1 || c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent));
  check(!cut.length, `légendes de tableau coupées sur le téléphone : ${cut.join(' | ')}`);
  await p.screenshot({ path: path.join(SHOTS, '11-telephone-territoire.png'), fullPage: true });
  log('capture : tests/artifacts/screenshots/11-telephone-territoire.png');
  await axeCheck(p, 'Territoire, téléphone');

  step = 'téléphone : APL et zonage des Deux-Sèvres';
  log(step);
  await p.evaluate(() => { location.hash = '#territoire/departement/79'; });
  await p.locator('#zonage-table').waitFor({ timeout: STEP_TIMEOUT });
  const zoverflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(zoverflow <= 1, `le tableau APL × zonage fait déborder la page de ${zoverflow} px`);
  const zcap = await p.locator('#zonage-table caption').evaluate((c) => c.getBoundingClientRect().right <= window.innerWidth + 1);
  check(zcap, 'la légende du tableau APL × zonage est coupée sur le téléphone');
  await p.locator('#territory-zonage .table-block').evaluate((e) => e.scrollIntoView({ block: 'start' }));
  await shot(p, '11b-telephone-zonage.png');
  await axeCheck(p, 'Territoire (APL × zonage), téléphone');

  step = 'téléphone : détail d’un calcul';
  log(step);
  await p.evaluate(() => { location.hash = '#calcul/79329/mg/apl_mg'; });
  await p.locator('#explain-table').waitFor({ timeout: STEP_TIMEOUT });
  await p.locator('#explain-drees').waitFor({ timeout: STEP_TIMEOUT });
  const calcOverflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(calcOverflow <= 1, `le détail d’un calcul déborde de ${calcOverflow} px sur un téléphone`);
  await p.locator('#explain-table').scrollIntoViewIfNeeded();
  await shot(p, '12-telephone-calcul.png');
  await axeCheck(p, 'Détail d’un calcul, téléphone');

  step = 'téléphone : dialogue du jeton';
  log(step);
  await p.evaluate(() => { location.hash = '#scenario'; window.scrollTo(0, 0); });
  await p.locator('#my-scenarios .account button').first().click();
  const tdlg = p.locator('#token-dialog');
  await tdlg.waitFor({ timeout: STEP_TIMEOUT });
  const box = await tdlg.evaluate((d) => { const r = d.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, w: window.innerWidth, h: window.innerHeight }; });
  check(box.left >= 0 && box.right <= box.w && box.top >= 0 && box.bottom <= box.h, `le dialogue du jeton sort de l’écran du téléphone (${JSON.stringify(box)})`);
  await shot(p, '15c-telephone-jeton.png');
  await axeCheck(p, 'dialogue du jeton, téléphone');
  await p.keyboard.press('Escape');
  await tdlg.waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
  check(await p.evaluate(() => document.activeElement?.closest('.account') != null), 'le focus ne revient pas au bouton après Échap');

  step = 'téléphone : scénario';
  log(step);
  await p.getByRole('tab', { name: 'Scénario' }).click();
  await p.evaluate(() => { window.scrollTo(0, 0); window.careaccess.map.jumpTo({ center: [-0.12, 46.9], zoom: 9 }); });
  await waitMapIdle(p);
  const psite = await mapPoint(p, -0.05, 46.85);
  await p.mouse.click(psite.x, psite.y);
  await p.waitForFunction(() => document.querySelector('#scenario-result')?.dataset.state === 'done', null, { timeout: STEP_TIMEOUT });
  await p.locator('#scenario-result').scrollIntoViewIfNeeded();
  await shot(p, '13-telephone-scenario.png');
  await axeCheck(p, 'Scénario, téléphone');
  await context.close();
}

run().then(() => {
  if (problems.length) {
    console.error(`ÉCHEC : erreurs dans la page :\n- ${problems.join('\n- ')}`);
    process.exit(1);
  }
  log('OK : toutes les vérifications du navigateur sont passées.');
}, async (e) => {
  console.error(`ÉCHEC à l'étape « ${step} » : ${e.message}`);
  if (problems.length) console.error(`Erreurs dans la page :\n- ${problems.join('\n- ')}`);
  process.exit(1);
});
