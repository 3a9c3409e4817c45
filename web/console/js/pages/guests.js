// guests.js - Guest Users: users of other deployments who talked to this
// network, and the blocked list.

import * as api from '../api.js';
import { h, form, section, table, action, notify, badge, fmtTime } from '../ui.js';

export default async function (ctx) {
  const g = await api.get(api.net(ctx.nid, '/guests'));
  const block = async (username) => {
    await api.post(api.net(ctx.nid, '/guests/blocked'), { username });
    notify(`${username} blocked.`);
    ctx.reload();
  };
  return h('div.page',
    section('Guests', h('p.help', 'Guests appear once they talk to users of this network (security groups need global federation and guest users allowed).'),
      table([
        { label: 'Guest', get: (u) => u.username },
        { label: 'Status', get: (u) => badge(u.status, u.status === 'blocked' ? 'suspended' : 'active') },
        { label: 'First seen', get: (u) => fmtTime(u.created_at) },
        { label: 'Actions', get: (u) => action('Block', () => block(u.username), 'danger') },
      ], g.guests, { empty: 'No guest user yet.', label: 'Guest users' })),
    section('Blocked', table([
      { label: 'Guest', get: (u) => u.username },
      { label: 'Blocked', get: (u) => fmtTime(u.blocked_at) },
      { label: 'Actions', get: (u) => action('Unblock', async () => {
        await api.del(api.net(ctx.nid, `/guests/blocked/${encodeURIComponent(u.username)}`));
        notify(`${u.username} unblocked.`);
        ctx.reload();
      }) },
    ], g.blocked, { empty: 'No one is blocked.', label: 'Blocked guests' }),
    form({
      fields: [{ name: 'username', label: 'Guest username', required: true, help: 'As the guest appears, for example alice@partner.example.' }],
      submit: 'Block guest',
      onSubmit: (v) => block(v.username),
    })));
}
