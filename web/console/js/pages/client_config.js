// client_config.js - Client Configuration: password-protected files that
// onboard users' clients (server, pinned certificates, the security
// group's policy), with a download link, a landing page and a deeplink.

import * as api from '../api.js';
import { h, form, section, table, action, notify, badge, fmtTime, confirmDialog, clear, download } from '../ui.js';

function links(c) {
  return h('div.info', { role: 'status' },
    h('p', `Configuration file "${c.name}" created. Hand out these links together with the file's password (separately). They are shown only now.`),
    h('ul',
      h('li', 'Download: ', h('a.cconf-download', { href: c.download_url }, c.download_url)),
      h('li', 'Landing page: ', h('a.cconf-landing', { href: c.landing_url, target: '_blank', rel: 'noopener' }, c.landing_url)),
      h('li', 'Deeplink: ', h('code.cconf-deeplink', c.deeplink))));
}

/* The creation form, also used by the Compliance Bot page. */
export async function cconfForm(ctx, { groups, days = 30, name = '', onCreated } = {}) {
  const shown = h('div');
  const f = form({
    fields: [
      { name: 'name', label: 'Name', required: true, value: name, help: 'Unique in the network, for example "sales laptops".' },
      { name: 'password', label: 'File password', type: 'password', required: true, help: 'At least 8 characters. Users type it when they register; it is not stored.' },
      { name: 'security_group_id', label: 'Security group', type: 'select', options: groups.map((g) => [g.id, g.name]), help: 'Its settings become the file\'s policy.' },
      { name: 'expires_in_days', label: 'Expires after (days)', type: 'number', min: 1, max: 3650, value: days },
      { name: 'suite', label: 'Cipher suite', type: 'select', options: [['x25519', 'X25519 / Ed25519 (default)'], ['p384', 'P-384 (approved algorithms only)']] },
    ],
    submit: 'Create configuration file',
    onSubmit: async (v, form) => {
      const c = await api.post(api.net(ctx.nid, '/client-configs'), { ...v, security_group_id: Number(v.security_group_id) });
      form.reset();
      clear(shown).append(links(c), h('div.actions', download('Download the file', api.url(api.net(ctx.nid, `/client-configs/${c.id}/file`)), `${c.name}.parley`)));
      notify(`Configuration file ${c.name} created.`);
      if (onCreated) await onCreated(c);
    },
  });
  return h('div', f, shown);
}

export default async function (ctx) {
  const { security_groups: groups } = await api.get(api.net(ctx.nid, '/security-groups'));
  const list = h('div');
  const groupName = (id) => (groups.find((g) => g.id === id) || { name: '—' }).name;
  const refresh = async () => {
    const { client_configs: rows } = await api.get(api.net(ctx.nid, '/client-configs'));
    clear(list).append(table([
      { label: 'Name', get: (c) => c.name },
      { label: 'Security group', get: (c) => groupName(c.security_group_id) },
      { label: 'Server', get: (c) => `${c.service_host}:${c.service_port}` },
      { label: 'Status', get: (c) => badge(c.status, c.status === 'active' ? 'active' : 'suspended') },
      { label: 'Expires', get: (c) => fmtTime(c.expired_at || c.expires_at) },
      { label: 'Downloads', get: (c) => String(c.downloads) },
      { label: 'Actions', get: (c) => h('span.row-actions',
        download('Download', api.url(api.net(ctx.nid, `/client-configs/${c.id}/file`)), `${c.name}.parley`),
        c.status === 'active' ? action('Expire now', async () => {
          if (!(await confirmDialog(`Expire "${c.name}"? Its links stop working; clients already registered are not affected.`, 'Expire'))) return;
          await api.post(api.net(ctx.nid, `/client-configs/${c.id}/expire`));
          notify(`"${c.name}" expired.`);
          await refresh();
        }, 'danger') : null) },
    ], rows, { empty: 'No configuration file yet.', label: 'Configuration files' }));
  };
  await refresh();
  return h('div.page',
    section('Create a configuration file', await cconfForm(ctx, { groups, onCreated: refresh })),
    section('Configuration files', list));
}
