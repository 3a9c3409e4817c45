// roles.js - Role Based Access Control: built-in and custom roles, each a
// set of permissions given to administrators.

import * as api from '../api.js';
import { h, form, section, table, action, panel, confirmDialog, notify, badge } from '../ui.js';

export default async function (ctx) {
  const [{ roles }, { permissions }] = await Promise.all([api.get('/roles'), api.get('/permissions')]);
  const opts = permissions.map((p) => [p, p]);
  const edit = panel();
  const create = form({
    fields: [
      { name: 'name', label: 'Role name', required: true },
      { name: 'permissions', label: 'Permissions', type: 'checks', options: opts },
    ],
    submit: 'Create role',
    onSubmit: async (v) => {
      await api.post('/roles', v);
      notify(`Role ${v.name} created.`);
      ctx.reload();
    },
  });
  const openEdit = (r) => edit.show(`Edit role ${r.name}`, form({
    fields: [
      { name: 'name', label: 'Role name', required: true, value: r.name },
      { name: 'permissions', label: 'Permissions', type: 'checks', options: opts, value: r.permissions },
    ],
    onSubmit: async (v) => {
      await api.patch(`/roles/${r.id}`, v);
      notify('Role saved.');
      ctx.reload();
    },
  }));
  return h('div.page',
    section('Roles', table([
      { label: 'Role', get: (r) => [r.name, r.builtin ? ' ' : '', r.builtin ? badge('built-in') : ''] },
      { label: 'Permissions', get: (r) => r.permissions.join(', ') || 'none' },
      { label: 'Administrators', get: (r) => String(r.admins) },
      { label: 'Actions', get: (r) => (r.builtin ? '' : h('span.row-actions',
        action('Edit', async () => openEdit(r)),
        action('Delete', async () => {
          if (!(await confirmDialog(`Delete role ${r.name}?`, 'Delete'))) return;
          await api.del(`/roles/${r.id}`);
          notify('Role deleted.');
          ctx.reload();
        }, 'danger'))) },
    ], roles, { label: 'Roles' })),
    edit,
    section('Create a role', create));
}
