// settings.js - Settings: deployment-wide settings that belong to no other
// page, and the audit log of what administrators did.

import * as api from '../api.js';
import { h, section, table, fmtTime } from '../ui.js';
import { deploymentForm } from '../settings.js';

export default async function () {
  const audit = (await api.get('/audit' + api.qs({ limit: 50 }))).entries;
  return h('div.page',
    section('Deployment settings', await deploymentForm(['settings'])),
    section('Recent administrator actions', table([
      { label: 'When', get: (e) => fmtTime(e.ts) },
      { label: 'Who', get: (e) => `${e.actor.name || e.actor.kind}` },
      { label: 'Action', get: (e) => h('code', e.action) },
      { label: 'Target', get: (e) => e.target || '—' },
      { label: 'IP', get: (e) => e.ip || '—' },
    ], audit, { empty: 'No actions recorded yet.', label: 'Audit log' })));
}
