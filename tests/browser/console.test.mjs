// console.test.mjs - the web console end to end: Chromium (headless,
// through playwright-core) drives the console of a real parleyd, and the
// admin API and a real `parley` client check what it did.
//
//   PARLEYD=build/src/server/parleyd PARLEY_CLI=build/src/cli/parley \
//     node tests/browser/console.test.mjs
//
// Prints TAP. Screenshots of every page go to PARLEY_BROWSER_ARTIFACTS.

import { join } from 'node:path';
import { writeFileSync, readFileSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { bootParleyd, launch, totpSource, apiClient, run, tap, artifactsDir } from './lib.mjs';

const art = artifactsDir();
rmSync(art, { recursive: true, force: true });
mkdirSync(join(art, 'downloads'), { recursive: true }); // also makes art again
const t = tap();
const S = {}; // state carried between steps
const SUPER_PW = 'Super-Secret-42!';
const NETADMIN_PW = 'Net-Admin-Pass-7?';

let srv, browser, su, na;

async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(art, name + '.png'), fullPage: true });
}

/* Go to a console page and wait for it to render its heading. Every
 * control on it must have a label. */
async function visit(page, hash, heading) {
  await page.goto(`${srv.url}/admin/${hash}`);
  await page.locator('main h1', { hasText: heading }).waitFor();
  await page.locator('main .loading').waitFor({ state: 'detached' }).catch(() => {});
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('main input, main select, main textarea')]
    .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
    .map((e) => e.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabelled, [], `unlabelled controls on ${hash}`);
}

async function signIn(page, user, password, code) {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  if (code) await page.getByLabel('Two-factor code').fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

t.step('boot parleyd and Chromium', async () => {
  srv = await bootParleyd(['--set', 'admin_login_rate=1000', '--set', 'admin_lockout_attempts=3']);
  browser = await launch();
  su = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 } })).newPage();
  su.on('pageerror', (e) => { S.pageErrors = (S.pageErrors || []).concat(String(e)); });
});

t.step('the base URL redirects to the console, served with a strict CSP', async () => {
  const res = await su.goto(srv.url + '/');
  assert.equal(new URL(su.url()).pathname, '/admin/');
  const h = res.headers();
  assert.match(h['content-security-policy'], /script-src 'self'/);
  assert.doesNotMatch(h['content-security-policy'], /unsafe-inline/);
  assert.equal(h['x-frame-options'], 'DENY');
  await su.getByRole('heading', { name: 'Sign in' }).waitFor();
  const js = await su.request.get(srv.url + '/admin/js/app.js');
  assert.equal(js.status(), 200);
  assert.match(js.headers()['content-type'], /^text\/javascript/);
  assert.ok(js.headers().etag);
  const again = await su.request.get(srv.url + '/admin/js/app.js', { headers: { 'If-None-Match': js.headers().etag } });
  assert.equal(again.status(), 304);
  assert.equal((await su.request.get(srv.url + '/admin/..%2f..%2fetc/passwd')).status(), 404);
});

t.step('a wrong password is refused with a clear message', async () => {
  await signIn(su, 'admin', 'not-the-password');
  await su.getByRole('alert').filter({ hasText: 'Wrong username, password or code' }).waitFor();
});

t.step('first sign-in: forced password change, then TOTP enrolment', async () => {
  await signIn(su, 'admin', srv.password);
  await su.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await shot(su, '01-forced-password-change');
  await su.getByLabel('New password', { exact: true }).fill('weak');
  await su.getByLabel('New password again').fill('weak');
  await su.getByRole('button', { name: 'Change password' }).click();
  // The policy error sits next to the field it concerns.
  await fieldError(su.locator('form'), 'New password').filter({ hasText: 'password policy' }).waitFor();
  await su.getByLabel('New password', { exact: true }).fill(SUPER_PW);
  await su.getByLabel('New password again').fill(SUPER_PW);
  await su.getByRole('button', { name: 'Change password' }).click();
  await su.getByRole('heading', { name: 'Protect your account' }).waitFor();
  const secret = (await su.locator('code.secret').textContent()).trim();
  S.superTotp = totpSource(secret);
  await shot(su, '02-totp-enrolment');
  await su.getByLabel('Code from the app').fill('000000');
  await su.getByRole('button', { name: 'Turn on two-factor' }).click();
  await su.locator('.field-error, .error').filter({ hasText: /code/i }).first().waitFor();
  await su.getByLabel('Code from the app').fill(await S.superTotp());
  await su.getByRole('button', { name: 'Turn on two-factor' }).click();
  await su.locator('main h1', { hasText: 'Network Provisioning' }).waitFor();
});

t.step('sign-in now needs the TOTP code', async () => {
  await su.getByRole('button', { name: 'Sign out' }).click();
  await su.getByText('You have signed out.').waitFor();
  await signIn(su, 'admin', SUPER_PW);
  await su.getByLabel('Two-factor code').waitFor();
  await su.getByLabel('Two-factor code').fill(await S.superTotp());
  await su.getByRole('button', { name: 'Sign in' }).click();
  await su.locator('main h1', { hasText: 'Network Provisioning' }).waitFor();
});


// A 2x2 PNG for the logo.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNkYPjPwMDAxMDAwMDAAAAOHgEDfnxjPwAAAABJRU5ErkJggg==', 'base64');

async function download(page, trigger) {
  const [d] = await Promise.all([page.waitForEvent('download'), trigger()]);
  const path = join(art, 'downloads', d.suggestedFilename());
  await d.saveAs(path);
  return readFileSync(path, 'utf8');
}

/* Fill a form field found by its label inside `scope`. */
const field = (scope, label) => scope.getByLabel(label, { exact: true });
/* The error shown next to the field labelled `label`. */
const fieldError = (scope, label) => scope.locator('.field', { has: scope.page().getByLabel(label, { exact: true }) }).locator('.field-error');

t.step('super admin: create an API token (used below to check the API)', async () => {
  await visit(su, '#/tokens', 'API Access Tokens');
  await field(su, 'Label').fill('browser test');
  await su.getByRole('button', { name: 'Create token' }).click();
  S.token = (await su.locator('code.token-secret').textContent()).trim();
  assert.match(S.token, /^pat_/);
  await su.locator('table').getByText('browser test').waitFor();
  S.api = apiClient(su.request, srv.url, S.token);
  await shot(su, '03-tokens');
});

t.step('super admin: create a network', async () => {
  await visit(su, '#/networks', 'Network Provisioning');
  await su.getByLabel('Network name').fill('Acme');
  await su.getByRole('button', { name: 'Create network' }).click();
  await su.locator('table').getByRole('link', { name: 'Acme' }).waitFor();
  const nets = (await S.api.get('/networks')).networks;
  S.nid = nets.find((n) => n.name === 'Acme').network_id;
  await shot(su, '04-networks');
});

t.step('super admin: create administrators, with API errors next to the field', async () => {
  await visit(su, '#/admins', 'Admin Provisioning');
  const f = su.locator('form', { has: su.getByRole('button', { name: 'Create administrator' }) });
  await field(f, 'Username').fill('netadmin');
  await field(f, 'Initial password').fill('short');
  await f.getByRole('button', { name: 'Create administrator' }).click();
  await fieldError(f, 'Initial password').filter({ hasText: 'password policy' }).waitFor();
  await field(f, 'Initial password').fill(NETADMIN_PW);
  await f.getByRole('checkbox', { name: 'Acme' }).check();
  await f.getByRole('button', { name: 'Create administrator' }).click();
  await su.locator('table').getByText('netadmin', { exact: true }).waitFor();
  await field(f, 'Username').fill('locky');
  await field(f, 'Initial password').fill(NETADMIN_PW);
  await f.getByRole('button', { name: 'Create administrator' }).click();
  await su.locator('table').getByText('locky', { exact: true }).waitFor();
  await field(f, 'Username').fill('ops');
  await field(f, 'Initial password').fill(NETADMIN_PW);
  await f.getByRole('button', { name: 'Create administrator' }).click();
  await su.locator('table').getByText('ops', { exact: true }).waitFor();
  const admins = (await S.api.get('/admins')).admins;
  const na = admins.find((a) => a.username === 'netadmin');
  assert.equal(na.networks[0].network_id, S.nid);
  assert.equal(na.must_change_password, true);
  await shot(su, '05-admins');
});

t.step('lockout: the sign-in page says the account is locked; a super admin unlocks it', async () => {
  const p = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await p.goto(srv.url + '/admin/');
  for (let i = 0; i < 3; i++) {
    await signIn(p, 'locky', 'Wrong-password-1!');
    await p.getByRole('alert').filter({ hasText: /Wrong username|locked/ }).waitFor();
  }
  await signIn(p, 'locky', NETADMIN_PW);
  await p.getByRole('alert').filter({ hasText: 'This account is locked' }).waitFor();
  await shot(p, '06-lockout-message');
  await visit(su, '#/lockout', 'Lockout');
  const row = su.locator('tr', { hasText: 'locky' });
  await row.waitFor();
  await shot(su, '07-lockout');
  await row.getByRole('button', { name: 'Unlock' }).click();
  await su.getByText('No account is locked.').waitFor();
  await signIn(p, 'locky', NETADMIN_PW);
  await p.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await p.context().close();
});

t.step('super admin: edit an administrator\'s name, role and networks', async () => {
  await visit(su, '#/admins', 'Admin Provisioning');
  await su.locator('tbody tr', { has: su.getByRole('cell', { name: 'locky', exact: true }) }).getByRole('button', { name: 'Edit' }).click();
  const p = su.locator('.inline-edit');
  await p.getByLabel('First name').fill('Lock');
  await p.getByLabel('Role').selectOption('read_only');
  await p.getByRole('checkbox', { name: 'Acme' }).check();
  await p.getByRole('button', { name: 'Save' }).click();
  await su.locator('tbody tr', { hasText: 'locky' }).getByText('read_only').waitFor();
  const a = (await S.api.get('/admins')).admins.find((x) => x.username === 'locky');
  assert.equal(a.first_name, 'Lock');
  assert.equal(a.role, 'read_only');
  assert.equal(a.networks[0].network_id, S.nid);
});

t.step('super admin: appearance sets the logo and sign-in text', async () => {
  await visit(su, '#/appearance', 'Appearance');
  writeFileSync(join(art, 'downloads', 'logo.png'), PNG);
  await su.getByLabel('Sign-in text').fill('Questions? Call the help desk on 1234.');
  await su.locator('input[type=file]').setInputFiles(join(art, 'downloads', 'logo.png'));
  await su.getByRole('button', { name: 'Save' }).click();
  await su.getByRole('img', { name: 'Current logo' }).waitFor();
  await shot(su, '08-appearance');
  const p = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await p.goto(srv.url + '/admin/');
  await p.getByText('Questions? Call the help desk on 1234.').waitFor();
  const w = await p.getByRole('img', { name: 'Logo' }).evaluate(async (img) => { await img.decode(); return img.naturalWidth; });
  assert.equal(w, 2);
  await p.context().close();
});

t.step('super admin: room bot, federation and settings save through the API', async () => {
  await visit(su, '#/room-bot', 'Manage Room Bot');
  await su.getByLabel('Room bot enabled').check();
  await su.getByRole('button', { name: 'Save' }).click();
  await su.getByText('Settings saved.').waitFor();
  await shot(su, '09-room-bot');
  await visit(su, '#/federation', 'Global Federation');
  await su.getByLabel('Global federation').check();
  await su.getByLabel('Federated domains').fill('partner.example\nother.example');
  await su.getByRole('button', { name: 'Save' }).click();
  await su.getByText('Settings saved.').waitFor();
  await shot(su, '10-federation');
  await visit(su, '#/settings', 'Settings');
  await su.getByRole('checkbox', { name: 'Allow private IP addresses' }).check();
  await su.getByRole('button', { name: 'Save' }).click();
  await su.getByText('Settings saved.').waitFor();
  await su.locator('table').getByText('network.create').first().waitFor();
  await shot(su, '11-settings');
  const d = (await S.api.get('/deployment/settings')).settings;
  assert.equal(d.room_bot_enabled, true);
  assert.equal(d.global_federation, true);
  assert.deepEqual(d.federated_domains, ['partner.example', 'other.example']);
  assert.equal(d.allow_private_ips, true);
});

t.step('super admin: roles, crash report and SSO pages', async () => {
  await visit(su, '#/roles', 'Role Based Access Control');
  const f = su.locator('form', { has: su.getByRole('button', { name: 'Create role' }) });
  await f.getByLabel('Role name').fill('auditor');
  await f.getByRole('checkbox', { name: 'audit.read' }).check();
  await f.getByRole('button', { name: 'Create role' }).click();
  await su.locator('table tr', { hasText: 'auditor' }).getByText('audit.read').waitFor();
  await shot(su, '12-roles');
  const roles = (await S.api.get('/roles')).roles;
  assert.deepEqual(roles.find((r) => r.name === 'auditor').permissions, ['audit.read']);
  await visit(su, '#/crash-report', 'Crash Report');
  await su.getByText(/parleyd \d/).first().waitFor();
  const rep = await download(su, () => su.getByRole('button', { name: 'Download report' }).click());
  assert.ok(JSON.parse(rep).versions.parleyd);
  await shot(su, '13-crash-report');
  await visit(su, '#/sso', 'SSO Configuration');
  await ssoPage(su, 'admin-sso', true);
  await shot(su, '14-sso');
});

/* The SSO pages need GET/PUT .../sso. Until parleyd has them the page shows
 * the API's error; with them, a saved configuration reads back without
 * its secret. `enable` turns SSO on. */
async function ssoPage(page, companyId, enable) {
  const save = page.getByRole('button', { name: 'Save' });
  const err = page.locator('main .error:not([hidden])');
  await Promise.race([save.waitFor(), err.first().waitFor()]);
  if (!(await save.count())) {
    assert.match(await err.first().textContent(), /no such endpoint/i);
    S.ssoMissing = true;
    console.log('# the SSO endpoints are not in this parleyd yet: the page shows the API error');
    return;
  }
  await page.getByLabel('Issuer URL').fill('not a url');
  await save.click();
  await fieldError(page.locator('main form'), 'Issuer URL').waitFor();
  if (enable) await page.getByLabel('Sign in with SSO').check();
  await page.getByLabel('Company ID').fill(companyId);
  // An address, not a name: the server resolves the host, and private
  // addresses pass because the Settings step allowed them.
  await page.getByLabel('Issuer URL').fill('https://127.0.0.1:9443/realms/acme');
  await page.getByLabel('Client ID').fill('parley-console');
  await page.getByLabel('Client secret').fill('s3cret-value');
  await save.click();
  await page.getByText('SSO configuration saved.').waitFor();
  await page.reload();
  await page.getByText('A secret is set.').waitFor();
  assert.equal(await page.getByLabel('Company ID').inputValue(), companyId);
}

t.step('network admin: first sign-in with a forced change lands on the dashboard', async () => {
  na = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 } })).newPage();
  na.on('pageerror', (e) => { S.pageErrors = (S.pageErrors || []).concat(String(e)); });
  await na.goto(srv.url + '/admin/');
  await signIn(na, 'netadmin', NETADMIN_PW);
  await na.getByLabel('New password', { exact: true }).fill('Changed-Net-Pass-8!');
  await na.getByLabel('New password again').fill('Changed-Net-Pass-8!');
  await na.getByRole('button', { name: 'Change password' }).click();
  await na.getByRole('button', { name: 'Skip for now' }).click();
  await na.locator('main h1', { hasText: 'Dashboard' }).waitFor();
  // A network administrator sees no deployment pages.
  assert.equal(await na.locator('#nav').getByRole('link', { name: 'Admin Provisioning' }).count(), 0);
  await shot(na, '20-dashboard');
});

const nv = (page) => `#/n/${S.nid}/${page}`;

t.step('team directory: create, edit, suspend users; invite an admin; CSV download', async () => {
  await visit(na, nv('users'), 'Team Directory');
  const f = na.locator('form', { has: na.getByRole('button', { name: 'Create user' }) });
  await field(f, 'Username').fill('alice');
  await field(f, 'Initial password').fill('x');
  await f.getByRole('button', { name: 'Create user' }).click();
  await fieldError(f, 'Initial password').filter({ hasText: 'password' }).waitFor();
  for (const u of ['alice', 'bob', 'carol', 'dave']) {
    await field(f, 'Username').fill(u);
    await field(f, 'Initial password').fill('Initial-Pass-1');
    await field(f, 'First name').fill(u[0].toUpperCase() + u.slice(1));
    await f.getByRole('button', { name: 'Create user' }).click();
    await na.locator('table tr', { hasText: u }).first().waitFor();
  }
  const row = (u) => na.locator('tbody tr', { has: na.getByRole('cell', { name: u, exact: true }) });
  await row('carol').getByRole('button', { name: 'Edit' }).click();
  await na.locator('.inline-edit').getByLabel('Last name').fill('Jones');
  await na.locator('.inline-edit').getByRole('button', { name: 'Save' }).click();
  await row('carol').getByText('Carol Jones').waitFor();
  await row('bob').getByRole('button', { name: 'Suspend' }).click();
  await row('bob').getByText('suspended').waitFor();
  await row('bob').getByRole('button', { name: 'Unsuspend' }).click();
  await row('bob').getByText('pending').waitFor();
  await na.getByLabel('Status').selectOption('pending');
  await na.getByText('4 users').waitFor();
  const invite = na.locator('form', { has: na.getByRole('button', { name: 'Invite administrator' }) });
  await invite.getByLabel('Administrator username').fill('ops');
  await invite.getByRole('button', { name: 'Invite administrator' }).click();
  await na.getByText('ops invited.').waitFor();
  await shot(na, '21-team-directory');
  const csv = await download(na, () => na.getByRole('link', { name: 'Download CSV' }).click());
  assert.match(csv, /"carol","Carol","Jones"/);
  const users = (await S.api.get(`/networks/${S.nid}/users`)).users;
  assert.equal(users.find((u) => u.username === 'carol').last_name, 'Jones');
});

t.step('manage users: bulk suspend from a dropped CSV, bulk delete with acknowledgement', async () => {
  await visit(na, nv('bulk'), 'Manage Users');
  const tmpl = await download(na, () => na.getByRole('link', { name: 'Download template' }).click());
  assert.match(tmpl, /^username/);
  // Drag and drop a file onto the drop zone.
  await na.locator('.dropzone').evaluate((zone, text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'suspend.csv', { type: 'text/csv' }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, 'username\r\ncarol\r\ndave\r\nnobody\r\n');
  await na.getByText('Chosen: suspend.csv').waitFor();
  await na.getByRole('button', { name: 'Run' }).click();
  await na.getByRole('status').filter({ hasText: '3 rows processed, 2 users suspended, 1 failed' }).first().waitFor();
  await na.locator('table', { hasText: 'nobody' }).waitFor();
  assert.equal(await na.locator('progress').evaluate((p) => p.value === p.max), true);
  await shot(na, '22-bulk-suspend');
  const sus = (await S.api.get(`/networks/${S.nid}/users?status=suspended`)).users.map((u) => u.username).sort();
  assert.deepEqual(sus, ['carol', 'dave']);
  writeFileSync(join(art, 'downloads', 'delete.csv'), 'username\ndave\n');
  await na.locator('.dropzone input[type=file]').setInputFiles(join(art, 'downloads', 'delete.csv'));
  await na.getByLabel('Delete the users').check();
  await na.getByRole('button', { name: 'Run' }).click();
  await na.getByRole('alert').filter({ hasText: 'Tick the acknowledgement' }).waitFor();
  await na.getByLabel(/I understand that deleting users/).check();
  await na.getByRole('button', { name: 'Run' }).click();
  await na.getByRole('status').filter({ hasText: '1 rows processed, 1 users deleted, 0 failed' }).first().waitFor();
  const left = (await S.api.get(`/networks/${S.nid}/users`)).users.map((u) => u.username).sort();
  assert.deepEqual(left, ['alice', 'bob', 'carol']);
});

t.step('security groups: overview, tabs, a bad value and a saved change seen through the API', async () => {
  await visit(na, nv('security-groups'), 'Security Groups');
  await na.locator('tr', { hasText: 'Default' }).getByRole('cell', { name: '3', exact: true }).waitFor();
  await shot(na, '23-security-groups');
  await na.getByRole('link', { name: 'Default', exact: true }).click();
  await na.getByRole('tab', { name: 'General' }).waitFor();
  for (const tab of ['General', 'Calling', 'Security', 'Push Config', 'Federation', 'Messaging']) {
    await na.getByRole('tab', { name: tab }).click();
    await na.getByRole('tabpanel').filter({ visible: true }).getByRole('button', { name: 'Save' }).waitFor();
  }
  // The tabs follow the arrow keys.
  await na.getByRole('tab', { name: 'Messaging' }).focus();
  await na.keyboard.press('ArrowRight');
  assert.equal(await na.getByRole('tab', { name: 'Calling' }).getAttribute('aria-selected'), 'true');
  await na.keyboard.press('ArrowLeft');
  assert.equal(await na.getByRole('tab', { name: 'Messaging' }).getAttribute('aria-selected'), 'true');
  const panel = na.getByRole('tabpanel').filter({ visible: true });
  await panel.getByLabel('Max expiration (seconds)').fill('5');
  await panel.getByRole('button', { name: 'Save' }).click();
  await panel.locator('.field-error').filter({ hasText: /60/ }).waitFor();
  await panel.getByLabel('Max expiration (seconds)').fill('3600');
  await panel.getByLabel('Link preview').uncheck();
  await panel.getByRole('button', { name: 'Save' }).click();
  await na.getByText('Messaging settings of Default saved.').waitFor();
  await shot(na, '24-security-group-details');
  const groups = (await S.api.get(`/networks/${S.nid}/security-groups`)).security_groups;
  const g = await S.api.get(`/networks/${S.nid}/security-groups/${groups[0].id}`);
  assert.equal(g.settings.max_expiration, 3600);
  assert.equal(g.settings.link_preview, false);
  await visit(na, nv('security-groups'), 'Security Groups');
  await na.getByLabel('Group name').fill('Contractors');
  await na.getByRole('button', { name: 'Create group' }).click();
  await na.locator('h2.group-title', { hasText: 'Contractors' }).waitFor();
});

t.step('client configuration: create and download a file that a real client registers with', async () => {
  await visit(na, nv('client-config'), 'Client Configuration');
  await na.getByLabel('Name', { exact: true }).fill('laptops');
  await na.getByLabel('File password').fill('config-pass-1');
  await na.getByRole('button', { name: 'Create configuration file' }).click();
  const deeplink = await na.locator('code.cconf-deeplink').textContent();
  assert.match(deeplink, /^parley:\/\/config\?url=/);
  const landing = await na.locator('a.cconf-landing').getAttribute('href');
  assert.match(landing, /\/config\/[A-Za-z0-9_-]+$/);
  await na.locator('table tr', { hasText: 'laptops' }).waitFor();
  await shot(na, '25-client-config');
  const [d] = await Promise.all([na.waitForEvent('download'), na.getByRole('link', { name: 'Download the file' }).click()]);
  const cfg = join(art, 'downloads', 'laptops.parley');
  await d.saveAs(cfg);
  if (!process.env.PARLEY_CLI) throw new Error('PARLEY_CLI is not set');
  S.clients = mkdtempSync(join(tmpdir(), 'parley-clients-'));
  for (const u of ['alice', 'bob']) {
    await run(process.env.PARLEY_CLI, ['--data-dir', join(S.clients, u), '--config', cfg, '--username', u, 'register', '--new-password'],
      { PARLEY_PASSWORD: 'Initial-Pass-1', PARLEY_NEW_PASSWORD: 'Registered-Pass-2', PARLEY_CONFIG_PASSWORD: 'config-pass-1' });
  }
  for (let i = 0; i < 3; i++) {
    await run(process.env.PARLEY_CLI, ['--data-dir', join(S.clients, 'alice'), '--username', 'alice', 'send', 'bob', `hello ${i}`],
      { PARLEY_PASSWORD: 'Registered-Pass-2' });
  }
  const users = (await S.api.get(`/networks/${S.nid}/users?status=active`)).users.map((u) => u.username).sort();
  assert.deepEqual(users, ['alice', 'bob']);
});

t.step('analytics: charts after real clients sent messages, and CSV export on every tab', async () => {
  await visit(na, nv('analytics'), 'Analytics');
  await na.locator('figure.chart canvas').first().waitFor();
  const drawn = () => na.locator('figure.chart canvas').evaluateAll((cs) => cs.filter((c) => c.offsetParent && c.width > 0 && globalThis.Chart && globalThis.Chart.getChart(c)).length);
  await na.waitForFunction(() => globalThis.Chart);
  assert.ok((await drawn()) >= 2);
  await na.locator('.stat', { hasText: 'registered users' }).getByText('2', { exact: true }).waitFor();
  await shot(na, '26-analytics-overview');
  const files = {};
  files.overview = await download(na, () => na.getByRole('tabpanel').filter({ visible: true }).getByRole('link', { name: 'Export (CSV)' }).click());
  await na.getByRole('tab', { name: 'Members' }).click();
  await na.getByLabel('Break active users down by').selectOption('by_security_group');
  await na.locator('figure.chart', { hasText: 'Active users by security group' }).waitFor();
  await na.locator('.stat', { hasText: 'Deleted#' }).getByText('1', { exact: true }).waitFor();
  await shot(na, '27-analytics-members');
  files.members = await download(na, () => na.getByRole('tabpanel').filter({ visible: true }).getByRole('link', { name: 'Export (CSV)' }).click());
  await na.getByRole('tab', { name: 'Messages' }).click();
  await na.locator('.stat', { hasText: 'messages sent' }).getByText('3', { exact: true }).waitFor();
  const pie = na.locator('figure.chart', { hasText: 'Devices by operating system' }).locator('canvas');
  assert.equal(await pie.evaluate((c) => globalThis.Chart.getChart(c).config.type), 'pie');
  await shot(na, '28-analytics-messages');
  files.messages = await download(na, () => na.getByRole('tabpanel').filter({ visible: true }).getByRole('link', { name: 'Export (CSV)' }).click());
  for (const [k, v] of Object.entries(files)) assert.ok(v.split('\n').length > 2, `${k} CSV has rows`);
  // The time range applies to the whole page.
  await na.getByLabel('From (UTC)').fill('2020-01-01');
  await na.getByLabel('To (UTC)').fill('2020-01-31');
  await na.getByRole('button', { name: 'Apply' }).click();
  await na.getByText('From 2020-01-01 00:00 to 2020-01-31 23:59 UTC').waitFor();
  await na.locator('.stat', { hasText: 'messages sent' }).getByText('0', { exact: true }).waitFor();
});


t.step('bots, compliance bot and guest users', async () => {
  await visit(na, nv('bots'), 'Bot Management');
  await na.getByLabel('Bot username').fill('alerts');
  await na.getByLabel('Password', { exact: true }).fill('Bot-Pass-123');
  await na.getByRole('button', { name: 'Create bot' }).click();
  await fieldError(na.locator('form'), 'Bot username').filter({ hasText: 'bot' }).waitFor();
  await na.getByLabel('Bot username').fill('alertsbot');
  await na.getByRole('button', { name: 'Create bot' }).click();
  await na.locator('table').getByText('alertsbot').waitFor();
  await shot(na, '29-bots');
  await visit(na, nv('compliance'), 'Compliance Bot');
  await na.getByLabel('Bot username').fill('acmecompliancebot');
  await na.getByLabel('Password', { exact: true }).fill('Bot-Pass-123');
  await na.getByRole('button', { name: 'Create compliance bot' }).click();
  await na.locator('table').getByText('acmecompliancebot').waitFor();
  await na.getByLabel('File password').fill('compliance-pass');
  await na.getByRole('button', { name: 'Create configuration file' }).click();
  await na.locator('code.cconf-deeplink').waitFor();
  await shot(na, '30-compliance-bot');
  // Expire that file from Client Configuration.
  await visit(na, nv('client-config'), 'Client Configuration');
  const cc = na.locator('tbody tr', { hasText: 'compliance-bot' });
  await cc.getByRole('button', { name: 'Expire now' }).click();
  await na.getByRole('dialog').getByRole('button', { name: 'Expire' }).click();
  await cc.getByText('expired').waitFor();
  const cfgs = (await S.api.get(`/networks/${S.nid}/client-configs`)).client_configs;
  assert.equal(cfgs.find((c) => c.name === 'compliance-bot').status, 'expired');
  const bots = (await S.api.get(`/networks/${S.nid}/bots`)).bots.map((b) => b.username).sort();
  assert.deepEqual(bots, ['acmecompliancebot', 'alertsbot']);
  await visit(na, nv('guests'), 'Guest Users');
  await na.getByLabel('Guest username').fill('eve@partner.example');
  await na.getByRole('button', { name: 'Block guest' }).click();
  const row = na.locator('tr', { hasText: 'eve@partner.example' });
  await row.waitFor();
  await shot(na, '31-guests');
  assert.equal((await S.api.get(`/networks/${S.nid}/guests`)).blocked[0].username, 'eve@partner.example');
  await row.getByRole('button', { name: 'Unblock' }).click();
  await na.getByText('No one is blocked.').waitFor();
});

t.step('network settings: profile, event logging, read receipts, file management', async () => {
  await visit(na, nv('profile'), 'Network Profile');
  await na.getByLabel('Network name').fill('Acme Corp');
  await na.getByRole('button', { name: 'Save' }).click();
  await na.locator('#network-select option', { hasText: 'Acme Corp' }).waitFor({ state: 'attached' });
  await na.locator('tr', { hasText: 'ops' }).getByText('invited').waitFor();
  await na.locator('tr', { hasText: 'locky' }).getByText('accepted').waitFor();
  await shot(na, '32-network-profile');
  await visit(na, nv('event-logging'), 'Event Logging');
  await na.getByLabel('Event logging').selectOption('ip_address');
  await na.getByRole('button', { name: 'Save' }).click();
  await na.getByText('Settings saved.').waitFor();
  await shot(na, '33-event-logging');
  await visit(na, nv('read-receipts'), 'Read Receipts');
  await na.getByRole('checkbox', { name: 'Read receipts' }).uncheck();
  await na.getByRole('button', { name: 'Save' }).click();
  await na.getByText('Settings saved.').waitFor();
  await shot(na, '34-read-receipts');
  await visit(na, nv('files'), 'File Management');
  await na.getByRole('checkbox', { name: 'File management' }).check();
  await na.getByRole('button', { name: 'Save' }).first().click();
  await na.getByText('Settings saved.').waitFor();
  await na.getByRole('spinbutton', { name: 'TCP calling port' }).fill('70000');
  await na.getByRole('button', { name: 'Save' }).last().click();
  await fieldError(na.locator('form').last(), 'TCP calling port').filter({ hasText: '65535' }).waitFor();
  await shot(na, '35-file-management');
  const n = await S.api.get(`/networks/${S.nid}`);
  assert.equal(n.name, 'Acme Corp');
  assert.equal(n.settings.event_logging, 'ip_address');
  assert.equal(n.settings.read_receipts, false);
  assert.equal((await S.api.get(`/networks/${S.nid}/options`)).settings.file_management, true);
});

t.step('security tags, default rooms, API access and network SSO', async () => {
  await visit(na, nv('security-tags'), 'Security Tags');
  await na.getByLabel('Name', { exact: true }).fill('Secret');
  await na.getByRole('checkbox', { name: 'Contractors' }).check();
  await na.getByRole('button', { name: 'Create tag' }).click();
  await na.locator('tr', { hasText: 'Secret' }).getByText('Contractors').waitFor();
  await shot(na, '36-security-tags');
  await visit(na, nv('default-rooms'), 'Default Rooms');
  await na.getByLabel('Room name').fill('All hands');
  await na.getByRole('button', { name: 'Create room' }).click();
  await na.locator('tr', { hasText: 'All hands' }).getByText('every user of the network').waitFor();
  await shot(na, '37-default-rooms');
  await visit(na, nv('api-access'), 'API Access');
  await na.getByLabel('Label').fill('directory sync');
  await na.getByRole('button', { name: 'Create token' }).click();
  const tok = (await na.locator('code.token-secret').textContent()).trim();
  const netApi = apiClient(na.request, srv.url, tok);
  assert.equal((await netApi.get(`/networks/${S.nid}/users`)).total, 3);
  await assert.rejects(netApi.get('/admins'), /403|404/);
  await shot(na, '38-api-access');
  const tags = (await S.api.get(`/networks/${S.nid}/security-tags`)).security_tags;
  assert.equal(tags[0].name, 'Secret');
  assert.equal((await S.api.get(`/networks/${S.nid}/default-rooms`)).default_rooms[0].name, 'All hands');
  await visit(na, nv('sso'), 'SSO Configuration');
  await ssoPage(na, 'acme', false); // enabled, it would refuse creating users by hand
  await shot(na, '39-network-sso');
});

t.step('dashboard and my account', async () => {
  await visit(na, nv('dashboard'), 'Dashboard');
  await na.locator('.stat', { hasText: 'registered users' }).getByText('2', { exact: true }).waitFor();
  await na.locator('.stat', { hasText: 'messages, last 30 days' }).getByText('3', { exact: true }).waitFor();
  await shot(na, '40-dashboard');
  await visit(na, '#/account', 'My Account');
  await na.getByLabel('First name').fill('Nora');
  await na.getByRole('button', { name: 'Save' }).click();
  await na.getByText('Your name is saved.').waitFor();
  await na.getByRole('button', { name: 'Set up two-factor' }).click();
  const secret = (await na.locator('code.secret').textContent()).trim();
  await na.getByLabel('Code from the app').fill(await totpSource(secret)());
  await na.getByRole('button', { name: 'Turn on two-factor' }).click();
  await na.getByText('Two-factor authentication is on.').first().waitFor();
  await shot(na, '41-my-account');
});

t.step('team directory: deleting a user asks first', async () => {
  await visit(na, nv('users'), 'Team Directory');
  const row = na.locator('tbody tr', { has: na.getByRole('cell', { name: 'carol', exact: true }) });
  await row.getByRole('button', { name: 'Delete' }).click();
  const dialog = na.getByRole('dialog');
  await dialog.getByText('Delete carol?').waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await row.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete user' }).click();
  await na.getByText('carol deleted.').waitFor();
  await row.waitFor({ state: 'detached' });
  const left = (await S.api.get(`/networks/${S.nid}/users`)).users.map((u) => u.username).sort();
  assert.deepEqual(left, ['alice', 'bob']);
});

t.step('tablet width: the navigation folds behind Menu and pages still work', async () => {
  await na.setViewportSize({ width: 820, height: 1180 });
  await visit(na, nv('users'), 'Team Directory');
  const nav = na.locator('#nav');
  await na.waitForFunction(() => document.getElementById('nav').getBoundingClientRect().right <= 0);
  await na.getByRole('button', { name: 'Menu' }).click();
  await na.locator('#nav.open').waitFor();
  await na.waitForFunction(() => document.getElementById('nav').getBoundingClientRect().left >= 0);
  await shot(na, '42-tablet-menu');
  await nav.getByRole('link', { name: 'Security Groups' }).click();
  await na.locator('main h1', { hasText: 'Security Groups' }).waitFor();
  assert.equal(await na.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded'), 'false');
  const overflow = await na.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
  await visit(na, nv('analytics'), 'Analytics');
  await shot(na, '43-tablet-analytics');
  await na.setViewportSize({ width: 1280, height: 860 });
});

t.step('one session per administrator: a new sign-in ends the old one', async () => {
  const p = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await p.goto(srv.url + '/admin/');
  // Keyboard only: type, Tab to the next field, Enter submits.
  await p.getByLabel('Username').focus();
  await p.keyboard.type('admin');
  await p.keyboard.press('Tab');
  await p.keyboard.type(SUPER_PW);
  await p.keyboard.press('Enter');
  await p.getByLabel('Two-factor code').waitFor();
  await p.getByLabel('Two-factor code').focus();
  await p.keyboard.type(await S.superTotp());
  await p.keyboard.press('Enter');
  await p.locator('main h1', { hasText: 'Network Provisioning' }).waitFor();
  // The first browser's session is gone: its next request says so.
  await su.locator('#nav').getByRole('link', { name: 'Lockout' }).click();
  await su.getByText('Your session has ended').waitFor();
  await su.getByRole('heading', { name: 'Sign in' }).waitFor();
  await shot(su, '44-session-ended');
  await p.context().close();
});

t.step('no page raised a script error', async () => {
  assert.deepEqual(S.pageErrors || [], []);
});

t.step('parleyd shuts down cleanly after the whole session', async () => {
  await browser.close();
  browser = null;
  const out = srv;
  srv = null;
  const code = await out.stop();
  assert.equal(code, 0, 'parleyd exit status\n' + out.log().split('\n').slice(-20).join('\n'));
});

export async function main() {
  const failed = await t.run(async (name) => {
    if (su) await shot(su, 'failure-super').catch(() => {});
    if (na) await shot(na, 'failure-netadmin').catch(() => {});
    if (srv) console.log(srv.log().split('\n').slice(-30).map((l) => '# ' + l).join('\n'));
  });
  if (S.pageErrors) console.log(S.pageErrors.map((e) => '# page error: ' + e).join('\n'));
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (S.clients) rmSync(S.clients, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
main();
