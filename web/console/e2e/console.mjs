// End-to-end test of the admin console in headless Chromium, driven by the
// Go test TestConsoleInBrowser (console_browser_test.go), which starts a real
// server and then checks the results over the admin API.
//
//   node web/console/e2e/console.mjs <baseURL> <operatorToken> <viewerToken> [userToken]
//
// Environment: CONSOLE_E2E_REASON (the reason typed to turn `withdraw` off),
// CONSOLE_SCREENSHOTS (a folder to save screenshots in), CHROMIUM (the
// browser binary, default /usr/bin/chromium). Playwright never downloads a
// browser here: playwright-core drives the system Chromium.
//
// Exits 0 when every step passed; otherwise prints the failing step and exits 1.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [baseArg, operatorToken, viewerToken, userToken] = process.argv.slice(2);
if (!baseArg || !operatorToken || !viewerToken) {
  console.error('usage: node console.mjs <baseURL> <operatorToken> <viewerToken> [userToken]');
  process.exit(2);
}
const base = new URL(baseArg);
const consoleURL = new URL('/admin/', base).href;
const reason = process.env.CONSOLE_E2E_REASON || 'console e2e: withdraw off';
const shots = process.env.CONSOLE_SCREENSHOTS || '';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const log = (...a) => console.log('e2e:', ...a);
const fail = (msg) => {
  throw new Error(msg);
};

// Everything the page asks for, and what was refused for leaving the host.
const requested = [];
const blocked = [];
const pageErrors = [];

let step = '';
async function run(name, fn) {
  step = name;
  const t0 = Date.now();
  await fn();
  log(`ok  ${name} (${Date.now() - t0} ms)`);
}

async function shot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});

let code = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  // Only the test server may be reached: any other host is refused and
  // recorded, so a CDN reference fails the test even on a connected machine.
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.host !== base.host) {
      blocked.push(u.href);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console error: ${m.text()}`);
  });

  const token = page.locator('[name=token]');
  const withdraw = page.locator('[data-switch="withdraw"]');
  const signIn = async (t) => {
    await token.fill(t);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await token.waitFor();
    const left = await page.evaluate(() => sessionStorage.length);
    if (left !== 0) fail(`sessionStorage keeps ${left} item(s) after signing out`);
  };
  const alertText = async (scope) => {
    const a = scope.locator('[role=alert]').first();
    await a.waitFor();
    return (await a.innerText()).trim();
  };
  const tab = (name) => page.locator('nav.tabs').getByRole('link', { name, exact: true });

  await run('sign-in page', async () => {
    const resp = await page.goto(consoleURL);
    if (!resp || resp.status() !== 200) fail(`GET ${consoleURL}: status ${resp?.status()}`);
    await token.waitFor();
    await shot(page, 'signin');
  });

  await run('a malformed token is refused', async () => {
    await signIn('not-a-token');
    const msg = await alertText(page);
    if (!/refused this token/i.test(msg)) fail(`alert says ${JSON.stringify(msg)}`);
    if (await withdraw.count()) fail('signed in with a malformed token');
  });

  if (userToken) {
    await run('a token without an admin role is refused', async () => {
      await signIn(userToken);
      await page.getByText(/this token has no admin role/i).waitFor();
      if (await withdraw.count()) fail('signed in with a user token');
    });
  }

  await run('viewer signs in', async () => {
    await signIn(viewerToken);
    await withdraw.waitFor();
    const role = (await page.locator('[data-role]').innerText()).trim().toLowerCase();
    if (role !== 'viewer') fail(`role badge says ${role}`);
    if ((await withdraw.getAttribute('data-enabled')) !== 'true') fail('withdraw is not on at the start');
  });

  await run('viewer toggling is refused and changes nothing', async () => {
    await withdraw.getByRole('switch').click();
    await page.locator('[name=reason]').fill('viewer should not be able to');
    await page.locator('[data-confirm]').click();
    const msg = await alertText(withdraw);
    if (!msg.includes('FORBIDDEN')) fail(`error shown: ${JSON.stringify(msg)}`);
    await page.waitForTimeout(300);
    if ((await withdraw.getAttribute('data-enabled')) !== 'true') fail('withdraw shows off after a refused change');
    if ((await withdraw.getByRole('switch').getAttribute('aria-checked')) !== 'true') fail('toggle shows off after a refused change');
    await shot(page, 'viewer-refused');
    await signOut();
  });

  await run('operator signs in and stays signed in across a reload', async () => {
    await signIn(operatorToken);
    await withdraw.waitFor();
    await page.reload();
    await withdraw.waitFor();
    if (await token.count()) fail('the reload signed out');
    const role = (await page.locator('[data-role]').innerText()).trim().toLowerCase();
    if (role !== 'operator') fail(`role badge says ${role}`);
    const n = await page.locator('[data-switch]').count();
    if (n < 26) fail(`${n} switches shown, want at least 26`);
    await page.locator('[data-config-version]').waitFor();
  });

  await run('activities: phases, budgets and stats', async () => {
    await tab('Activities').click();
    await page.locator('[data-activity="spring-festival"]').waitFor();
    await page.locator('[data-activity="spring-festival-prod"]').waitFor();
    const cash = page.locator('[data-budget="cash-rain"]');
    await cash.waitFor();
    const text = await cash.innerText();
    // The demo scene's budget: 100,000,000 fen.
    if (!text.includes('¥1,000,000.00')) fail(`cash-rain budget row reads ${JSON.stringify(text)}`);
    await page.locator('[data-stats]').waitFor();
    const stats = await page.locator('[data-stats]').innerText();
    if (!/Issued[\s\S]*¥\d[\d,]*\.\d\d/.test(stats)) fail(`stats read ${JSON.stringify(stats)}`);
    await shot(page, 'activities');
  });

  await run('a deep link reloads into the same view', async () => {
    await page.locator('[data-activity="spring-festival-prod"]').click();
    await page.waitForURL('**/admin/activities/spring-festival-prod');
    await page.reload();
    await page.locator('[data-activity="spring-festival-prod"][aria-current="true"]').waitFor();
    await page.locator('[data-budget="cash-rain"]').waitFor();
  });

  const title = `Console e2e notice ${Date.now()}`;
  await run('announcements: create', async () => {
    await tab('Announcements').click();
    const form = page.locator('[data-create-announcement]');
    await form.waitFor();
    await form.locator('[name=title]').fill(title);
    await form.locator('[name=body]').fill('Red packets rain at 20:00 tonight.');
    await form.getByText('3', { exact: true }).click(); // app 3 only
    await form.getByRole('button', { name: 'Publish' }).click();
    await form.locator('[role=status]').waitFor();
    const card = page.locator('[data-announcement]', { hasText: title });
    await card.waitFor();
    const text = await card.innerText();
    if (!text.includes('Apps 3') || !/live/i.test(text)) fail(`new announcement reads ${JSON.stringify(text)}`);
    await shot(page, 'announcements');
  });

  await run('announcements: delete with a reason', async () => {
    const card = page.locator('[data-announcement]', { hasText: title });
    await card.getByRole('button', { name: 'Delete…' }).click();
    await card.locator('[name=reason]').fill('console e2e cleanup');
    await card.locator('[data-confirm]').click();
    await card.waitFor({ state: 'detached' });
  });

  await run('audit log lists the announcement changes and loads more', async () => {
    await tab('Audit log').click();
    const rows = page.locator('[data-audit] tbody tr');
    await rows.first().waitFor();
    const text = await rows.first().innerText();
    if (!text.includes('deleteAnnouncement') || !text.includes('console e2e cleanup')) fail(`newest audit row reads ${JSON.stringify(text)}`);
    // The Go test wrote more entries than a page holds.
    const more = page.locator('[data-load-more]');
    await more.waitFor();
    const before = await rows.count();
    if (before !== 20) fail(`first page has ${before} rows, want 20`);
    await more.click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-audit] tbody tr').length > n, before);
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-audit-entry')));
    if (new Set(ids).size !== ids.length) fail('load more repeated entries');
  });

  await run('an empty reason is refused by the server and shown', async () => {
    await tab('Switches').click();
    await withdraw.waitFor();
    await withdraw.getByRole('switch').click();
    await page.locator('[name=reason]').fill('');
    await page.locator('[data-confirm]').click();
    const msg = await alertText(withdraw);
    if (!msg.includes('BAD_USER_INPUT')) fail(`error shown: ${JSON.stringify(msg)}`);
    if ((await withdraw.getAttribute('data-enabled')) !== 'true') fail('withdraw shows off after a refused change');
  });

  await run('operator turns withdraw off with a reason', async () => {
    await page.locator('[name=reason]').fill(reason);
    await page.locator('[data-confirm]').click();
    await page.locator('[data-switch="withdraw"][data-enabled="false"]').waitFor();
    if ((await withdraw.getByRole('switch').getAttribute('aria-checked')) !== 'false') fail('toggle still shows on');
    if (await page.locator('[name=reason]').count()) fail('the confirmation stayed open');
    const meta = await withdraw.innerText();
    if (!meta.includes(reason)) fail(`withdraw row does not show the reason: ${JSON.stringify(meta)}`);
    // The signed-in switchboard from the top, once the toggle's transition ended.
    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(300);
    await shot(page, 'console');
  });

  await run('audit log shows the change, newest first', async () => {
    await tab('Audit log').click();
    const first = page.locator('[data-audit] tbody tr').first();
    await first.getByText('setSwitch').waitFor();
    const text = await first.innerText();
    if (!text.includes('withdraw') || !text.includes(reason)) fail(`newest audit row reads ${JSON.stringify(text)}`);
    await shot(page, 'audit');
  });

  await run('nothing left the host and the page logged no error', async () => {
    if (blocked.length) fail(`requests to other hosts: ${blocked.join(', ')}`);
    const outside = requested.filter((u) => !u.startsWith('data:') && new URL(u).host !== base.host);
    if (outside.length) fail(`requests to other hosts: ${outside.join(', ')}`);
    if (pageErrors.length) fail(pageErrors.join('\n'));
    log(`${requested.length} requests, all to ${base.host}`);
  });
} catch (err) {
  code = 1;
  console.error(`e2e: FAIL ${step}: ${err.message}`);
  if (pageErrors.length) console.error(`e2e: page errors:\n  ${pageErrors.join('\n  ')}`);
} finally {
  await browser.close();
}
process.exit(code);
