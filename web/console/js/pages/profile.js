// profile.js - Network Profile: the network's name and federation domain,
// and its administrators.

import * as api from '../api.js';
import { h, form, section, table, action, notify, confirmDialog, badge } from '../ui.js';

export default async function (ctx) {
  const [n, { admins }] = await Promise.all([api.get(api.net(ctx.nid)), api.get(api.net(ctx.nid, '/admins'))]);
  // Only a super administrator may change the federation domain.
  const fields = [{ name: 'name', label: 'Network name', required: true, value: n.name }];
  if (ctx.me.is_super) fields.push({ name: 'federation_domain', label: 'Federation domain', value: n.federation_domain || '', help: 'The domain other deployments use to reach this network (optional).' });
  const f = form({
    fields,
    onSubmit: async (v) => {
      await api.patch(api.net(ctx.nid), v);
      notify('Network profile saved.');
      await ctx.reloadNetworks();
      ctx.reload();
    },
  });
  const invite = form({
    fields: [{ name: 'username', label: 'Administrator username', required: true, help: 'An existing administrator; they administer this network once they accept.' }],
    submit: 'Invite administrator',
    onSubmit: async (v) => {
      await api.post(api.net(ctx.nid, '/admins'), v);
      notify(`${v.username} invited.`);
      ctx.reload();
    },
  });
  return h('div.page',
    section('Profile', h('p', 'Network id: ', h('code', n.network_id)),
      ctx.me.is_super ? null : h('p', 'Federation domain: ', n.federation_domain || 'none', h('span.help', ' (set by a super administrator)')),
      f),
    section('Administrators', table([
      { label: 'Administrator', get: (a) => a.username },
      { label: 'Status', get: (a) => badge(a.status, a.status === 'accepted' ? 'active' : 'pending') },
      { label: 'Actions', get: (a) => action('Remove', async () => {
        if (!(await confirmDialog(`Remove ${a.username} from this network's administrators?`, 'Remove'))) return;
        await api.del(api.net(ctx.nid, `/admins/${a.id}`));
        notify(`${a.username} removed.`);
        ctx.reload();
      }, 'danger') },
    ], admins, { empty: 'No network administrator.', label: 'Network administrators' }), invite));
}
