// lockout.js - Lockout: administrators locked after failed sign-ins, the
// failed attempts, and unlocking.

import * as api from '../api.js';
import { h, section, table, action, notify, fmtTime } from '../ui.js';

export default async function (ctx) {
  const l = await api.get('/lockout');
  const until = l.lockout_minutes ? `for ${l.lockout_minutes} minutes` : 'until a super administrator unlocks it';
  return h('div.page',
    h('div.grid',
      h('div.stat', h('span.n', String(l.locked_count)), h('span.l', 'locked administrators')),
      h('div.stat', h('span.n', String(l.failed_attempts_pending)), h('span.l', 'failed attempts not yet cleared')),
      h('div.stat', h('span.n', String(l.failed_attempts_24h)), h('span.l', 'failed attempts in 24 hours')),
      h('div.stat', h('span.n', String(l.users.suspended)), h('span.l', 'users suspended'))),
    h('p', `An administrator account is locked after ${l.lockout_attempts} failed sign-ins, ${until} (settings admin_lockout_attempts and admin_lockout_minutes of parleyd).`),
    section('Locked accounts', table([
      { label: 'Administrator', get: (a) => a.username },
      { label: 'Failed attempts', get: (a) => String(a.failed_logins ?? '—') },
      { label: 'Locked until', get: (a) => (a.locked_until ? fmtTime(a.locked_until) : 'unlocked by hand') },
      { label: 'Actions', get: (a) => action('Unlock', async () => {
        await api.post(`/admins/${a.id}/unlock`);
        notify(`${a.username} unlocked.`);
        ctx.reload();
      }) },
    ], l.locked, { empty: 'No account is locked.', label: 'Locked accounts' })));
}
