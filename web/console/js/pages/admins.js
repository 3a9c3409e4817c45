// admins.js - Admin Provisioning: create, edit, unlock and delete
// administrators, and choose the networks each one administers.

import * as api from '../api.js';
import { h, form, section, table, action, badge, panel, confirmDialog, fmtTime, notify } from '../ui.js';

export default async function (ctx) {
  const [{ admins }, { roles }, { networks }] = await Promise.all([
    api.get('/admins'), api.get('/roles'), api.get('/networks'),
  ]);
  const roleOpts = [['', 'Default for the kind of administrator'], ...roles.map((r) => [r.name, r.name])];
  const netOpts = networks.map((n) => [n.network_id, n.name]);
  const edit = panel();
  const netName = (id) => (networks.find((n) => n.network_id === id) || { name: id }).name;

  const create = form({
    fields: [
      { name: 'username', label: 'Username', required: true, help: 'Letters, digits, dot, dash and underscore.' },
      { name: 'password', label: 'Initial password', type: 'password', required: true, help: 'The administrator must change it at first sign-in. At least 12 characters with upper and lower case, a digit and a symbol.' },
      { name: 'first_name', label: 'First name' },
      { name: 'last_name', label: 'Last name' },
      { name: 'is_super', label: 'Super administrator (every network and the deployment pages)', type: 'checkbox' },
      { name: 'role', label: 'Role', type: 'select', options: roleOpts },
      { name: 'networks', label: 'Networks administered', type: 'checks', options: netOpts, empty: 'No network yet: create one in Network Provisioning.' },
    ],
    submit: 'Create administrator',
    onSubmit: async (v) => {
      const body = { ...v };
      if (!body.role) delete body.role;
      await api.post('/admins', body);
      notify(`Administrator ${v.username} created.`);
      ctx.reload();
    },
  });

  const openEdit = (a) => {
    const f = form({
      fields: [
        { name: 'first_name', label: 'First name', value: a.first_name },
        { name: 'last_name', label: 'Last name', value: a.last_name },
        { name: 'role', label: 'Role', type: 'select', options: roleOpts, value: a.role || '' },
        { name: 'password', label: 'Reset password', type: 'password', help: 'Leave empty to keep it. A reset ends the administrator\'s session and asks for a new password at next sign-in.' },
        { name: 'networks', label: 'Networks administered', type: 'checks', options: netOpts, value: (a.networks || []).map((n) => n.network_id) },
      ],
      onSubmit: async (v) => {
        const body = { first_name: v.first_name, last_name: v.last_name, role: v.role };
        if (v.password) body.password = v.password;
        await api.patch(`/admins/${a.id}`, body);
        const before = new Set((a.networks || []).map((n) => n.network_id));
        const after = new Set(v.networks);
        for (const n of after) if (!before.has(n)) await api.put(`/admins/${a.id}/networks/${encodeURIComponent(n)}`);
        for (const n of before) if (!after.has(n)) await api.del(`/admins/${a.id}/networks/${encodeURIComponent(n)}`);
        notify(`Administrator ${a.username} saved.`);
        ctx.reload();
      },
    });
    edit.show(`Edit ${a.username}`, f);
  };

  const rows = table([
    { label: 'Username', get: (a) => a.username },
    { label: 'Name', get: (a) => `${a.first_name} ${a.last_name}`.trim() || '—' },
    { label: 'Kind', get: (a) => (a.is_super ? 'Super administrator' : 'Network administrator') },
    { label: 'Role', get: (a) => a.role || 'default' },
    { label: 'Networks', get: (a) => (a.is_super ? 'all' : (a.networks || []).map((n) => netName(n.network_id) + (n.status === 'invited' ? ' (invited)' : '')).join(', ') || '—') },
    { label: 'Status', get: (a) => [a.locked ? badge('locked', 'locked') : badge('active', 'active'), a.totp_enabled ? ' 2FA' : '', a.must_change_password ? ' must change password' : ''] },
    { label: 'Created', get: (a) => fmtTime(a.created_at) },
    { label: 'Actions', get: (a) => h('span.row-actions',
      action('Edit', async () => openEdit(a)),
      a.locked ? action('Unlock', async () => { await api.post(`/admins/${a.id}/unlock`); notify(`${a.username} unlocked.`); ctx.reload(); }) : null,
      a.id === ctx.me.id ? null : action('Delete', async () => {
        if (!(await confirmDialog(`Delete administrator ${a.username}? Their sessions and tokens end.`, 'Delete'))) return;
        await api.del(`/admins/${a.id}`);
        notify(`${a.username} deleted.`);
        ctx.reload();
      }, 'danger')) },
  ], admins, { label: 'Administrators' });

  return h('div.page', section('Administrators', rows), edit, section('Create an administrator', create));
}
