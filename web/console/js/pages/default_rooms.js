// default_rooms.js - Default Rooms: rooms the room bot keeps every user of
// the network (or of chosen security groups) in.

import * as api from '../api.js';
import { h, form, section, table, action, notify, confirmDialog, fmtTime, errorBox } from '../ui.js';

export default async function (ctx) {
  const { security_groups: groups } = await api.get(api.net(ctx.nid, '/security-groups'));
  let rooms;
  try {
    rooms = (await api.get(api.net(ctx.nid, '/default-rooms'))).default_rooms;
  } catch (e) {
    return h('div.page', errorBox(e));
  }
  const gname = (id) => (groups.find((g) => g.id === id) || { name: String(id) }).name;
  return h('div.page',
    section('Rooms', table([
      { label: 'Room', get: (r) => r.name },
      { label: 'Description', get: (r) => r.description || '—' },
      { label: 'Members', get: (r) => (r.all_users ? 'every user of the network' : r.security_groups.map(gname).join(', ')) },
      { label: 'Created', get: (r) => fmtTime(r.created_at) },
      { label: 'Actions', get: (r) => action('Delete', async () => {
        if (!(await confirmDialog(`Delete default room ${r.name}? The room stays, no longer managed.`, 'Delete'))) return;
        await api.del(api.net(ctx.nid, `/default-rooms/${r.id}`));
        notify('Default room deleted.');
        ctx.reload();
      }, 'danger') },
    ], rooms, { empty: 'No default room yet.', label: 'Default rooms' })),
    section('Create a default room', form({
      fields: [
        { name: 'name', label: 'Room name', required: true },
        { name: 'description', label: 'Description', type: 'textarea', rows: 2 },
        { name: 'all_users', label: 'Every user of the network', type: 'checkbox', value: true },
        { name: 'security_groups', label: 'Or only these security groups', type: 'checks', numeric: true, options: groups.map((g) => [g.id, g.name]) },
      ],
      submit: 'Create room',
      onSubmit: async (v) => {
        await api.post(api.net(ctx.nid, '/default-rooms'), v);
        notify(`Default room ${v.name} created.`);
        ctx.reload();
      },
    })));
}
