// The review pages in a real browser, as an owner uses them: open the flagged queue, open the
// worst call, click a failed criterion's evidence and check the player is at that moment, then
// override the verdict and see it after a reload. Run through ./run.sh, which starts
// `callscore serve` on a database scored from the fixtures and sets:
//   CALLSCORE_URL   the server's base URL (http://127.0.0.1:PORT)
//   ARTIFACTS_DIR   where screenshots go (target/browser-artifacts)
//   CHROMIUM        the browser executable (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.CALLSCORE_URL;
const artifacts = process.env.ARTIFACTS_DIR ?? 'target/browser-artifacts';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const reviewer = 'Browser Test';

let context;
let page;
let profile;
const scriptErrors = [];

before(async () => {
  assert.ok(base, 'CALLSCORE_URL must name the running server (use tests/browser/run.sh)');
  mkdirSync(artifacts, { recursive: true });
  // A fresh profile every run: no cookies, cache or service workers from an earlier one.
  profile = mkdtempSync(join(tmpdir(), 'callscore-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  // Any script error on our pages fails the test (checked at its end).
  page.on('pageerror', (err) => scriptErrors.push(String(err)));
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** The player's state, read in the page. */
const playerState = () =>
  page.evaluate(() => {
    const a = document.getElementById('player');
    return { currentTime: a.currentTime, readyState: a.readyState, error: a.error && a.error.code };
  });

test('an owner lands on the failed moment and records an override', async () => {
  // 1. The flagged queue, worst first.
  await page.goto(`${base}/`);
  assert.equal(await page.locator('h1').innerText(), 'Flagged calls');
  const rows = page.locator('table.calls tbody tr');
  assert.ok((await rows.count()) > 0, 'the fixtures have flagged calls');
  const worst = rows.first();
  const worstName = (await worst.locator('td.file a').innerText()).trim();
  const scores = await rows.locator('td.num .score').allInnerTexts();
  assert.ok(scores.length > 1, 'several flagged calls');

  // 2. Open the worst call.
  await worst.locator('td.file a').click();
  await page.waitForURL(/\/calls\/[0-9a-f]{64}$/);
  assert.equal(await page.locator('h1').innerText(), worstName);
  const audio = page.locator('audio#player');
  await audio.waitFor();
  await page.waitForFunction(() => document.getElementById('player').readyState >= 1);
  const duration = await page.evaluate(() => document.getElementById('player').duration);
  assert.ok(duration > 5, `the recording loads (duration ${duration} s)`);

  // 3. A failed criterion's evidence — the critical one when there is one.
  const failed = page.locator('li.criterion.fail');
  const critical = failed.filter({ has: page.locator('.chip.critical') }).filter({ has: page.locator('button.evidence') });
  const withEvidence = failed.filter({ has: page.locator('button.evidence') });
  const criterion = (await critical.count()) > 0 ? critical.first() : withEvidence.first();
  const criterionId = (await criterion.getAttribute('id')).replace(/^criterion-/, '');
  // Its first evidence after the first second, so that the seek is observable.
  const seeks = (await criterion.locator('button.evidence').evaluateAll((els) => els.map((e) => Number(e.dataset.seek))));
  const index = seeks.findIndex((ms) => ms > 1000);
  assert.ok(index >= 0, `evidence later than the first second (${seeks})`);
  const evidence = criterion.locator('button.evidence').nth(index);
  const startMs = seeks[index];
  await evidence.click();
  await page.waitForFunction(
    (t) => {
      const a = document.getElementById('player');
      return a.readyState >= 1 && !a.seeking && Math.abs(a.currentTime - t) < 1;
    },
    startMs / 1000,
  );
  await page.evaluate(() => document.getElementById('player').pause());
  const state = await playerState();
  assert.equal(state.error, null, 'the recording plays');
  assert.ok(Math.abs(state.currentTime - startMs / 1000) < 1, `player at ${state.currentTime} s, evidence at ${startMs / 1000} s`);

  // The transcript follows: the highlighted segment is the one being played.
  const playing = page.locator('#transcript li.seg.playing').first();
  await playing.waitFor();
  const [segStart, segEnd] = [Number(await playing.getAttribute('data-start')), Number(await playing.getAttribute('data-end'))];
  assert.ok(segStart <= state.currentTime * 1000 + 1000 && state.currentTime * 1000 <= segEnd + 1000,
    `highlighted segment ${segStart}-${segEnd} ms covers ${state.currentTime} s`);
  assert.ok(await evidence.evaluate((el) => el.classList.contains('current')), 'the clicked evidence is marked');

  await page.screenshot({ path: join(artifacts, 'call-page-evidence.png') });
  // The whole picture at that moment: call, verdict, player, scorecard, transcript.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, 'call-page.png') });

  // 4. Override the machine's verdict with a reason; it is shown after a reload.
  await criterion.locator('details.override summary').click();
  const form = criterion.locator('details.override form');
  await form.locator('input[name="reviewer"]').fill(reviewer);
  await form.locator('select[name="outcome"]').selectOption('pass');
  const reason = `Heard the whole call at ${new Date().toISOString()}: the remark was a quote from the caller`;
  await form.locator('input[name="note"]').fill(reason);
  await Promise.all([page.waitForURL(new RegExp(`#criterion-${criterionId}$`)), form.locator('button[type="submit"]').click()]);
  await page.reload();
  const after = page.locator(`#criterion-${criterionId}`);
  const note = await after.locator('p.override-note').innerText();
  assert.ok(note.includes(reviewer) && note.includes(reason), `override shown beside the machine verdict: ${note}`);
  assert.ok(note.includes('(machine: Fail)'), note);
  assert.deepEqual(await after.locator('.crit-row .outcome').allInnerTexts(), ['FAIL', 'PASS'], 'machine → reviewer');
  assert.ok(await page.locator('.reviewed-score').isVisible(), 'the reviewed score is shown');

  // 5. Mark it listened; the queue shows who listened.
  await Promise.all([page.waitForURL(/#review$/), page.locator('#review button:has-text("Mark listened")').click()]);
  await page.goto(`${base}/`);
  const row = page.locator('table.calls tbody tr', { has: page.locator(`td.file a:text-is("${worstName}")`) });
  assert.match(await row.locator('td.listened').innerText(), new RegExp(reviewer));

  // The call page with the override, for the README.
  await page.goto(`${base}/calls/${(await row.locator('td.file a').getAttribute('href')).split('/').pop()}?t=${startMs}`);
  await page.waitForFunction(() => document.getElementById('player').readyState >= 1);
  await page.locator(`#criterion-${criterionId} button.evidence`).nth(index).click();
  await page.waitForFunction((t) => Math.abs(document.getElementById('player').currentTime - t) < 1, startMs / 1000);
  await page.evaluate(() => document.getElementById('player').pause());
  await page.screenshot({ path: join(artifacts, 'call-page-reviewed.png') });
  assert.deepEqual(scriptErrors, [], 'no script errors');
});

test('an analyst searches every call and a hit plays from its moment', async () => {
  const errorsBefore = scriptErrors.length;
  // The search page is in the navigation of every page.
  await page.goto(`${base}/`);
  await page.locator('header.top nav a:text-is("Search")').click();
  await page.waitForURL(/\/search$/);
  // "anything else" is offered on several fixture calls.
  await page.locator('input[name="q"]').fill('"anything else"');
  await page.locator('select[name="speaker"]').selectOption('agent');
  await Promise.all([page.waitForURL(/\/search\?q=/), page.locator('form[role="search"] button[type="submit"]').click()]);
  const hits = page.locator('ol.hits li');
  assert.ok((await hits.count()) > 0, 'the fixtures offer further help');
  const marked = await hits.first().locator('mark').allInnerTexts();
  assert.ok(marked.join(' ').toLowerCase().includes('anything'), `the match is marked: ${marked}`);
  // A hit after the first second, so the seek is observable.
  const hrefs = await hits.locator('a.hit').evaluateAll((els) => els.map((e) => e.getAttribute('href')));
  const href = hrefs.find((h) => Number(new URL(h, base).searchParams.get('t')) > 1000);
  assert.ok(href, `a hit later than the first second (${hrefs})`);
  const at = Number(new URL(href, base).searchParams.get('t'));
  await Promise.all([page.waitForURL(/\/calls\/[0-9a-f]{64}\?t=\d+$/), page.locator(`a.hit[href="${href}"]`).click()]);
  await page.waitForFunction(
    (t) => {
      const a = document.getElementById('player');
      return a.readyState >= 1 && !a.seeking && Math.abs(a.currentTime - t) < 1;
    },
    at / 1000,
  );
  const state = await playerState();
  assert.equal(state.error, null, 'the recording plays');
  assert.ok(Math.abs(state.currentTime - at / 1000) < 1, `player at ${state.currentTime} s, hit at ${at / 1000} s`);
  await page.screenshot({ path: join(artifacts, 'search-hit.png') });
  assert.deepEqual(scriptErrors.slice(errorsBefore), [], 'no script errors');
});
