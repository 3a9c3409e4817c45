// analytics.js - Analytics: Overview, Members and Messages over a time
// range in UTC chosen once for the whole page, each tab with its charts
// (Chart.js, served by parleyd from the console's vendor directory) and a
// CSV export of the same figures.

import * as api from '../api.js';
import { h, section, tabs, clear, download, nextId, errorBox } from '../ui.js';

let chartLib;
async function Chart() {
  if (!chartLib) {
    await import('/admin/vendor/chart.umd.js'); // UMD: defines globalThis.Chart
    chartLib = globalThis.Chart;
    chartLib.defaults.animation = false;
    chartLib.defaults.font.family = getComputedStyle(document.body).fontFamily;
  }
  return chartLib;
}

const PALETTE = ['#1d4ed8', '#0e9f6e', '#f59e0b', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c'];
const charts = new Set();

/* A chart in a labelled box, with the same figures as a table for screen
 * readers. `series`: {label: {key: value}}. */
function chartBox(title, type, series) {
  const canvas = h('canvas', { role: 'img', 'aria-label': title });
  const keys = [...new Set(Object.values(series).flatMap((s) => Object.keys(s)))];
  const box = h('figure.chart', { dataset: { chart: title } },
    h('figcaption', title),
    h('div.chart-box', canvas),
    h('details', h('summary', 'Figures'), h('table', h('thead', h('tr', h('th', { scope: 'col' }, ''), Object.keys(series).map((s) => h('th', { scope: 'col' }, s)))),
      h('tbody', keys.map((k) => h('tr', h('th', { scope: 'row' }, k), Object.values(series).map((s) => h('td', String(s[k] ?? 0)))))))));
  const empty = keys.length === 0 || Object.values(series).every((s) => Object.values(s).every((v) => !v));
  Chart().then((C) => {
    const pie = type === 'pie';
    const c = new C(canvas, {
      type,
      data: {
        labels: keys,
        datasets: Object.entries(series).map(([label, s], i) => ({
          label, data: keys.map((k) => s[k] ?? 0),
          backgroundColor: pie ? keys.map((_, j) => PALETTE[j % PALETTE.length]) : PALETTE[i % PALETTE.length],
          borderColor: pie ? '#fff' : PALETTE[i % PALETTE.length], tension: 0.2, fill: false,
        })),
      },
      options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { display: pie || Object.keys(series).length > 1 } },
        scales: pie ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    charts.add(c);
  }).catch(() => {
    box.querySelector('.chart-box').replaceWith(h('p.error', 'The chart cannot be drawn: parleyd does not serve Chart.js (run tools/install-deps). The figures are below.'));
  });
  if (empty) box.append(h('p.empty', 'No data in this range yet.'));
  return box;
}

const stat = (n, label, note) => h('div.stat', h('span.n', n === undefined ? '—' : String(n)), h('span.l', label), note ? h('p.help', note) : null);

const day = (t) => new Date(t * 1000).toISOString().slice(0, 10);
const utc = (d, end) => Math.floor(Date.parse(d + 'T00:00:00Z') / 1000) + (end ? 86399 : 0);

export default async function (ctx) {
  const nid = ctx.nid;
  const now = Math.floor(Date.now() / 1000);
  const range = { from: day(now - 29 * 86400), to: day(now), interval: 'day' };
  const out = h('div');
  const fromId = nextId(), toId = nextId(), ivId = nextId();
  const err = h('p.error', { role: 'alert', hidden: true });
  const filter = h('form.toolbar.range', { 'aria-label': 'Time range (UTC)' },
    h('div.field', h('label', { htmlFor: fromId }, 'From (UTC)'), h('input', { type: 'date', id: fromId, name: 'from', value: range.from, required: true })),
    h('div.field', h('label', { htmlFor: toId }, 'To (UTC)'), h('input', { type: 'date', id: toId, name: 'to', value: range.to, required: true })),
    h('div.field', h('label', { htmlFor: ivId }, 'Interval'), h('select', { id: ivId, name: 'interval' },
      [['day', 'Daily'], ['week', 'Weekly'], ['month', 'Monthly']].map(([v, l]) => h('option', { value: v }, l)))),
    h('button.primary', { type: 'submit' }, 'Apply'));
  let breakdown = 'by_platform';
  let selectedTab = 'overview';

  const q = (extra = {}) => api.qs({ from: utc(range.from), to: utc(range.to, true), interval: range.interval, ...extra });
  const csv = (what) => download('Export (CSV)', api.url(api.net(nid, `/analytics/${what}` + q({ format: 'csv' }))), `${what}-${range.from}-${range.to}.csv`);

  const render = async () => {
    for (const c of charts) c.destroy();
    charts.clear();
    let ov, mem, msg;
    try {
      [ov, mem, msg] = await Promise.all(['overview', 'members', 'messages'].map((w) => api.get(api.net(nid, `/analytics/${w}` + q()))));
    } catch (e) {
      clear(out).append(errorBox(e));
      return;
    }
    const bySel = h('select', { id: nextId(), onchange: (ev) => { breakdown = ev.target.value; selectedTab = 'members'; render(); } },
      [['by_platform', 'Platform'], ['by_client_version', 'Client version'], ['by_security_group', 'Security group']].map(([v, l]) => h('option', { value: v, selected: v === breakdown }, l)));
    const t = tabs([
      { id: 'overview', label: 'Overview', render: () => h('div',
        h('div.grid', stat(ov.registered, 'registered users'), stat(ov.pending, 'pending users'), stat(ov.devices, 'devices')),
        h('div.chart-row', chartBox('Registrations over time', 'line', { Registrations: ov.registrations }),
          chartBox('Client versions', 'bar', { Devices: ov.client_versions })),
        h('div.actions', csv('overview'))) },
      { id: 'members', label: 'Members', render: () => h('div',
        h('div.grid', stat(mem.active_users_total, 'active users in the range'), stat(mem.deleted, 'Deleted#', 'users deleted in the range')),
        h('div.chart-row', chartBox('Active users over time', 'line', { 'Active users': mem.active_users }),
          h('div', h('div.field', h('label', { htmlFor: bySel.id }, 'Break active users down by'), bySel),
            chartBox('Active users by ' + bySel.selectedOptions[0].textContent.toLowerCase(), 'bar', { 'Active users': mem[breakdown] }))),
        h('div.actions', csv('members'))) },
      { id: 'messages', label: 'Messages', render: () => h('div',
        h('div.grid', stat(msg.messages_total, 'messages sent'),
          stat(msg.unavailable && msg.unavailable.calls_total ? undefined : msg.calls_total, 'calls', msg.unavailable && msg.unavailable.calls_total),
          stat(msg.unavailable && msg.unavailable.files_total ? undefined : msg.files_total, 'files sent', msg.unavailable && msg.unavailable.files_total)),
        h('div.chart-row', chartBox('Messages sent over time', 'line', { Messages: msg.messages }),
          chartBox('Devices by operating system', 'pie', { Devices: msg.devices_by_os }),
          chartBox('Client versions', 'bar', { Devices: msg.client_versions })),
        h('div.actions', csv('messages'))) },
    ], { label: 'Analytics', selected: selectedTab });
    t.addEventListener('click', (ev) => { const b = ev.target.closest('[role=tab]'); if (b) selectedTab = b.textContent.toLowerCase(); });
    clear(out).append(h('p.help', `From ${range.from} 00:00 to ${range.to} 23:59 UTC, ${range.interval === 'day' ? 'daily' : range.interval + 'ly'}.`), t);
  };

  filter.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const f = new FormData(filter);
    if (!f.get('from') || !f.get('to') || f.get('from') > f.get('to')) {
      err.textContent = 'Choose a start date on or before the end date.';
      err.hidden = false;
      return;
    }
    Object.assign(range, { from: f.get('from'), to: f.get('to'), interval: f.get('interval') });
    await render();
  });
  await render();
  return h('div.page', section('Time range', filter, err), out);
}
