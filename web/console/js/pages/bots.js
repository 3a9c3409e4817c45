// bots.js - Bot Management: the network's bot accounts (their usernames
// end with "bot"), created here and run by parley-bot.

import * as api from '../api.js';
import { h, form, section, table, action, notify, badge, fmtTime, confirmDialog, clear } from '../ui.js';

/* The bot list with suspend and delete, as a refreshable element. */
export async function botList(nid, filter = () => true) {
  const box = h('div');
  const refresh = async () => {
    const { bots } = await api.get(api.net(nid, '/bots'));
    clear(box).append(table([
      { label: 'Bot', get: (b) => b.username },
      { label: 'Name', get: (b) => `${b.first_name} ${b.last_name}`.trim() || '—' },
      { label: 'Status', get: (b) => badge(b.status, b.status) },
      { label: 'Security group', get: (b) => b.security_group.name },
      { label: 'Created', get: (b) => fmtTime(b.created_at) },
      { label: 'Actions', get: (b) => h('span.row-actions',
        b.status === 'suspended'
          ? action('Unsuspend', async () => { await api.post(api.net(nid, `/users/${b.user_id}/unsuspend`)); notify(`${b.username} resumed.`); await refresh(); })
          : action('Suspend', async () => { await api.post(api.net(nid, `/users/${b.user_id}/suspend`)); notify(`${b.username} suspended.`); await refresh(); }),
        action('Delete', async () => {
          if (!(await confirmDialog(`Delete bot ${b.username}?`, 'Delete bot'))) return;
          await api.del(api.net(nid, `/users/${b.user_id}`));
          notify(`${b.username} deleted.`);
          await refresh();
        }, 'danger')) },
    ], bots.filter(filter), { empty: 'No bot yet.', label: 'Bots' }));
  };
  await refresh();
  box.refresh = refresh;
  return box;
}

export function botForm(nid, groups, onDone, { hint, submit = 'Create bot' } = {}) {
  return form({
    fields: [
      { name: 'username', label: 'Bot username', required: true, help: hint || 'Must end with "bot", for example "alertsbot".' },
      { name: 'password', label: 'Password', type: 'password', required: true, help: 'Used once, when the bot runtime registers the bot.' },
      { name: 'first_name', label: 'Display name' },
      { name: 'security_group_id', label: 'Security group', type: 'select', options: groups.map((g) => [g.id, g.name]) },
    ],
    submit,
    onSubmit: async (v, f) => {
      const b = await api.post(api.net(nid, '/bots'), { ...v, security_group_id: Number(v.security_group_id) });
      f.reset();
      notify(`Bot ${b.username} created.`);
      await onDone(b);
    },
  });
}

export default async function (ctx) {
  const { security_groups: groups } = await api.get(api.net(ctx.nid, '/security-groups'));
  const list = await botList(ctx.nid);
  return h('div.page',
    section('Bots', list),
    section('Create a bot', h('p', 'Register the bot with parley-bot using a configuration file from Client Configuration.'),
      botForm(ctx.nid, groups, () => list.refresh())));
}
