// users.js - Team Directory: the network's users with their status;
// create, edit, suspend, delete, export as CSV, and invite administrators.

import * as api from '../api.js';
import { h, form, section, table, action, panel, confirmDialog, notify, badge, fmtTime, download, clear } from '../ui.js';

const PAGE = 50;
const TYPES = [['user', 'User'], ['web_admin', 'Web administrator']];

export default async function (ctx) {
  const nid = ctx.nid;
  const { security_groups: groups } = await api.get(api.net(nid, '/security-groups'));
  const groupOpts = groups.map((g) => [g.id, g.name]);
  const edit = panel();
  const state = { status: '', offset: 0 };
  const list = h('div');

  const refresh = async () => {
    const r = await api.get(api.net(nid, '/users' + api.qs({ status: state.status, limit: PAGE, offset: state.offset })));
    const pager = h('div.actions',
      h('span', `${r.total} user${r.total === 1 ? '' : 's'}${r.total > PAGE ? `, showing ${state.offset + 1}–${Math.min(state.offset + PAGE, r.total)}` : ''}`),
      state.offset > 0 ? action('Previous', async () => { state.offset -= PAGE; await refresh(); }) : null,
      state.offset + PAGE < r.total ? action('Next', async () => { state.offset += PAGE; await refresh(); }) : null);
    clear(list).append(table([
      { label: 'Username', get: (u) => u.username },
      { label: 'Name', get: (u) => `${u.first_name} ${u.last_name}`.trim() || '—' },
      { label: 'Status', get: (u) => badge(u.status, u.status) },
      { label: 'Type', get: (u) => (u.user_type === 'web_admin' ? 'web administrator' : 'user') + (u.is_restricted ? ', restricted' : '') },
      { label: 'Security group', get: (u) => u.security_group.name },
      { label: 'Created', get: (u) => fmtTime(u.created_at) },
      { label: 'Actions', get: (u) => h('span.row-actions',
        action('Edit', async () => openEdit(u)),
        u.status === 'suspended'
          ? action('Unsuspend', async () => { await api.post(api.net(nid, `/users/${u.user_id}/unsuspend`)); notify(`${u.username} can sign in again.`); await refresh(); })
          : action('Suspend', async () => { await api.post(api.net(nid, `/users/${u.user_id}/suspend`)); notify(`${u.username} suspended: signed out everywhere.`); await refresh(); }),
        action('Delete', async () => {
          if (!(await confirmDialog(`Delete ${u.username}? Their account, devices and queued messages are removed. This cannot be undone.`, 'Delete user'))) return;
          await api.del(api.net(nid, `/users/${u.user_id}`));
          notify(`${u.username} deleted.`);
          await refresh();
        }, 'danger')) },
    ], r.users, { empty: state.status ? `No ${state.status} user.` : 'No user yet: create one below.', label: 'Users' }), pager);
  };

  const openEdit = (u) => edit.show(`Edit ${u.username}`, form({
    fields: [
      { name: 'first_name', label: 'First name', value: u.first_name },
      { name: 'last_name', label: 'Last name', value: u.last_name },
      { name: 'security_group_id', label: 'Security group', type: 'select', options: groupOpts, value: u.security_group.id },
      { name: 'user_type', label: 'Type', type: 'select', options: TYPES, value: u.user_type },
      { name: 'is_restricted', label: 'Restricted (may only talk to this network)', type: 'checkbox', value: u.is_restricted },
    ],
    onSubmit: async (v) => {
      await api.patch(api.net(nid, `/users/${u.user_id}`), { ...v, security_group_id: Number(v.security_group_id) });
      notify(`${u.username} saved.`);
      edit.close();
      await refresh();
    },
  }));

  const create = form({
    fields: [
      { name: 'username', label: 'Username', required: true },
      { name: 'password', label: 'Initial password', type: 'password', required: true, help: 'The user signs in with it the first time; it must satisfy the security group\'s password policy.' },
      { name: 'first_name', label: 'First name' },
      { name: 'last_name', label: 'Last name' },
      { name: 'security_group_id', label: 'Security group', type: 'select', options: groupOpts },
      { name: 'user_type', label: 'Type', type: 'select', options: TYPES },
    ],
    submit: 'Create user',
    onSubmit: async (v, f) => {
      const u = await api.post(api.net(nid, '/users'), { ...v, security_group_id: Number(v.security_group_id) });
      f.reset();
      notify(`${u.username} created; status pending until they register.`);
      await refresh();
    },
  });

  const invite = form({
    fields: [{ name: 'username', label: 'Administrator username', required: true, help: 'An existing administrator, who administers this network once they accept.' }],
    submit: 'Invite administrator',
    onSubmit: async (v, f) => { await api.post(api.net(nid, '/admins'), v); f.reset(); return `${v.username} invited.`; },
  });

  const statusSel = h('select#user-status', { onchange: async (ev) => { state.status = ev.target.value; state.offset = 0; await refresh(); } },
    [['', 'All'], ['pending', 'Pending'], ['active', 'Active'], ['suspended', 'Suspended']].map(([v, l]) => h('option', { value: v }, l)));
  await refresh();
  return h('div.page',
    h('div.toolbar',
      h('div.field', h('label', { htmlFor: 'user-status' }, 'Status'), statusSel),
      download('Download CSV', api.url(api.net(nid, '/users.csv')), 'users.csv'),
      h('a.button', { href: `#/n/${encodeURIComponent(nid)}/bulk` }, 'Manage users in bulk')),
    section('Users', list),
    edit,
    section('Create a user', create),
    section('Invite an administrator', invite));
}
