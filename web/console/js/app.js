// app.js - the console's shell: sign-in, navigation and the router.
//
// Routes are URL fragments (#/admins, #/n/NETWORK/users, ...) so parleyd
// serves one index.html. Each page is an ES module in pages/ whose default
// export renders it: `export default async function (ctx) -> Node`.

import * as api from './api.js';
import { h, clear, notify } from './ui.js';
import { signIn } from './pages/login.js';

// Super-administrator pages (deployment scope).
const SUPER = [
  ['admins', 'Admin Provisioning', 'admins'],
  ['networks', 'Network Provisioning', 'networks'],
  ['sso', 'SSO Configuration', 'sso'],
  ['room-bot', 'Manage Room Bot', 'room_bot'],
  ['crash-report', 'Crash Report', 'crash_report'],
  ['lockout', 'Lockout', 'lockout'],
  ['roles', 'Role Based Access Control', 'roles'],
  ['federation', 'Global Federation', 'federation'],
  ['settings', 'Settings', 'settings'],
  ['tokens', 'API Access Tokens', 'tokens'],
  ['appearance', 'Appearance', 'appearance'],
];

// Network-administrator pages, grouped as the navigation shows them.
const NETWORK = [
  ['Network', [
    ['dashboard', 'Dashboard', 'dashboard'],
    ['analytics', 'Analytics', 'analytics'],
  ]],
  ['Users', [
    ['users', 'Team Directory', 'users'],
    ['bulk', 'Manage Users', 'bulk'],
    ['bots', 'Bot Management', 'bots'],
    ['guests', 'Guest Users', 'guests'],
    ['compliance', 'Compliance Bot', 'compliance'],
  ]],
  ['Network settings', [
    ['profile', 'Network Profile', 'profile'],
    ['security-groups', 'Security Groups', 'security_groups'],
    ['sso', 'SSO Configuration', 'net_sso'],
    ['event-logging', 'Event Logging', 'event_logging'],
    ['security-tags', 'Security Tags', 'security_tags'],
    ['client-config', 'Client Configuration', 'client_config'],
    ['default-rooms', 'Default Rooms', 'default_rooms'],
    ['api-access', 'API Access', 'api_access'],
    ['read-receipts', 'Read Receipts', 'read_receipts'],
    ['files', 'File Management', 'files'],
  ]],
];

const state = { me: null, networks: [] };
const main = () => document.getElementById('main');

function currentNetwork() {
  const m = /^#\/n\/([^/]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

function buildNav() {
  const nav = clear(document.getElementById('nav'));
  const link = (href, label) => h('li', h('a', { href }, label));
  if (state.me.is_super) {
    nav.append(h('h2', 'Deployment'), h('ul', SUPER.map(([p, l]) => link('#/' + p, l))));
  }
  const nid = currentNetwork() || (state.networks[0] && state.networks[0].network_id);
  if (nid) {
    for (const [group, pages] of NETWORK) {
      nav.append(h('h2', group), h('ul', pages.map(([p, l]) => link(`#/n/${encodeURIComponent(nid)}/${p}`, l))));
    }
  } else if (!state.me.is_super) {
    nav.append(h('p.help', 'You administer no network yet. Accept an invitation in My account.'));
  }
  nav.append(h('ul', link('#/account', 'My Account')));
  const sel = document.getElementById('network-select');
  clear(sel);
  for (const n of state.networks) sel.append(h('option', { value: n.network_id, selected: n.network_id === nid }, n.name));
  sel.parentElement.hidden = state.networks.length === 0;
  markCurrent();
}

function markCurrent() {
  for (const a of document.querySelectorAll('#nav a')) {
    const here = location.hash === a.getAttribute('href') || location.hash.startsWith(a.getAttribute('href') + '/');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function loadNetworks() {
  try {
    state.networks = (await api.get('/networks')).networks;
  } catch (e) {
    state.networks = [];
  }
}

function findPage(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'n' && parts[1]) {
    const flat = NETWORK.flatMap(([, p]) => p);
    const entry = flat.find(([p]) => p === (parts[2] || 'dashboard'));
    if (!entry) return null;
    return { module: entry[2], title: entry[1], nid: parts[1], arg: parts.slice(3) };
  }
  if (parts[0] === 'account') return { module: 'account', title: 'My Account', arg: [] };
  const entry = SUPER.find(([p]) => p === parts[0]);
  if (entry && state.me.is_super) return { module: entry[2], title: entry[1], arg: parts.slice(1) };
  return null;
}

function defaultHash() {
  if (state.me.is_super) return '#/networks';
  if (state.networks.length) return `#/n/${encodeURIComponent(state.networks[0].network_id)}/dashboard`;
  return '#/account';
}

let renderSeq = 0;
async function route() {
  if (!state.me) return;
  const page = findPage(location.hash);
  if (!page) {
    location.replace(defaultHash());
    return;
  }
  const seq = ++renderSeq;
  buildNav();
  const m = clear(main());
  const netName = page.nid && (state.networks.find((n) => n.network_id === page.nid) || {}).name;
  document.title = `${page.title}${netName ? ' · ' + netName : ''} · Parley console`;
  m.append(h('p.loading', 'Loading…'));
  const ctx = {
    me: state.me,
    nid: page.nid,
    arg: page.arg,
    networks: state.networks,
    go: (hash) => { state.keepNotice = true; location.hash = hash; },
    reload: () => route(),
    reloadNetworks: async () => { await loadNetworks(); buildNav(); },
  };
  let view;
  try {
    const mod = await import(`./pages/${page.module}.js`);
    view = await mod.default(ctx);
  } catch (e) {
    view = h('p.error', { role: 'alert' }, e.message);
  }
  if (seq !== renderSeq) return;
  clear(m).append(h('h1', page.title, netName ? h('span.sub', ' — ' + netName) : null), view);
  m.focus({ preventScroll: true });
}

async function enterShell(me) {
  state.me = me;
  await loadNetworks();
  document.querySelector('.topbar').hidden = false;
  document.getElementById('nav').hidden = false;
  document.body.classList.add('signed-in');
  await route();
}

function leaveShell(message) {
  state.me = null;
  api.setCsrf(null);
  document.querySelector('.topbar').hidden = true;
  document.getElementById('nav').hidden = true;
  document.body.classList.remove('signed-in');
  signIn(main(), { message, done: enterShell });
}

function wireShell() {
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api.post('/logout'); } catch (e) { /* the session may be gone already */ }
    leaveShell('You have signed out.');
  });
  document.getElementById('network-select').addEventListener('change', (ev) => {
    const rest = (/^#\/n\/[^/]+\/([^/]+)/.exec(location.hash) || [])[1] || 'dashboard';
    location.hash = `#/n/${encodeURIComponent(ev.target.value)}/${rest}`;
  });
  const toggle = document.querySelector('.menu-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    document.getElementById('nav').classList.toggle('open', open);
  });
  document.getElementById('nav').addEventListener('click', (ev) => {
    if (ev.target.closest('a')) {
      toggle.setAttribute('aria-expanded', 'false');
      document.getElementById('nav').classList.remove('open');
    }
  });
  window.addEventListener('hashchange', () => {
    // A notice belongs to the page it came from, unless that page sent us here.
    if (!state.keepNotice) document.getElementById('notice').hidden = true;
    state.keepNotice = false;
    route();
  });
  api.setSessionLostHandler(() => {
    if (state.me) leaveShell('Your session has ended: it expired, or this account signed in somewhere else. Sign in again.');
  });
}

async function start() {
  wireShell();
  if (api.hasCsrf()) {
    try {
      const me = await api.get('/me');
      if (!me.must_change_password) return enterShell(me);
    } catch (e) { /* fall through to sign-in */ }
  }
  leaveShell();
}

export function refreshMe(me) {
  state.me = me;
}

start().catch((e) => notify(e.message, 'bad'));
