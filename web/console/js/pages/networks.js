// networks.js - Network Provisioning: create, rename and delete networks,
// with their administrators.

import * as api from '../api.js';
import { h, form, section, table, action, panel, confirmDialog, fmtTime, notify } from '../ui.js';

export default async function (ctx) {
  const [{ networks }, { admins }] = await Promise.all([api.get('/networks'), api.get('/admins')]);
  const netAdmins = admins.filter((a) => !a.is_super).map((a) => [a.username, a.username]);
  const edit = panel();
  const create = form({
    fields: [
      { name: 'name', label: 'Network name', required: true },
      { name: 'federation_domain', label: 'Federation domain', help: 'Optional: the domain other deployments use to reach this network.' },
      { name: 'admins', label: 'Administrators', type: 'checks', options: netAdmins, empty: 'No network administrator yet: create one in Admin Provisioning.' },
    ],
    submit: 'Create network',
    onSubmit: async (v) => {
      const body = { name: v.name, admins: v.admins };
      if (v.federation_domain) body.federation_domain = v.federation_domain;
      const n = await api.post('/networks', body);
      notify(`Network ${n.name} created.`);
      await ctx.reloadNetworks();
      ctx.reload();
    },
  });
  const openEdit = (n) => edit.show(`Edit ${n.name}`, form({
    fields: [
      { name: 'name', label: 'Network name', required: true, value: n.name },
      { name: 'federation_domain', label: 'Federation domain', value: n.federation_domain || '' },
    ],
    onSubmit: async (v) => {
      await api.patch(api.net(n.network_id), v);
      notify('Network saved.');
      await ctx.reloadNetworks();
      ctx.reload();
    },
  }));
  const list = table([
    { label: 'Name', get: (n) => h('a', { href: `#/n/${encodeURIComponent(n.network_id)}/dashboard` }, n.name) },
    { label: 'Network id', get: (n) => h('code', n.network_id) },
    { label: 'Users', get: (n) => String(n.users) },
    { label: 'Security groups', get: (n) => String(n.security_groups) },
    { label: 'Administrators', get: (n) => (n.admins || []).map((a) => a.username || a).join(', ') || '—' },
    { label: 'Created', get: (n) => fmtTime(n.created_at) },
    { label: 'Actions', get: (n) => h('span.row-actions',
      action('Edit', async () => openEdit(n)),
      action('Delete', async () => {
        if (!(await confirmDialog(`Delete network ${n.name} with all its users, groups and settings? This cannot be undone.`, 'Delete network'))) return;
        await api.del(api.net(n.network_id));
        notify(`Network ${n.name} deleted.`);
        await ctx.reloadNetworks();
        ctx.reload();
      }, 'danger')) },
  ], networks, { empty: 'No network yet.', label: 'Networks' });
  return h('div.page', section('Networks', list), edit, section('Create a network', create));
}
