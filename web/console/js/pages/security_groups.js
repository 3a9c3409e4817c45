// security_groups.js - Security Groups: the overview with user counts, and
// a group's details in tabs (General, Messaging, Calling, Security, Push
// Config, Federation) built from the server's settings table.

import * as api from '../api.js';
import { h, form, section, table, action, notify, confirmDialog, fmtTime, tabs, badge, SECTION_TITLES } from '../ui.js';
import { settingsForm } from '../settings.js';

const TABS = ['general', 'messaging', 'calling', 'security', 'push', 'federation'];

async function details(ctx, id) {
  const [g, desc] = await Promise.all([api.get(api.net(ctx.nid, `/security-groups/${id}`)), api.get('/settings')]);
  const path = api.net(ctx.nid, `/security-groups/${id}`);
  const rename = form({
    fields: [{ name: 'name', label: 'Group name', required: true, value: g.name }],
    submit: 'Rename',
    onSubmit: async (v) => { await api.patch(path, v); return 'Group renamed.'; },
  });
  const t = tabs(TABS.map((s) => ({
    id: s,
    label: SECTION_TITLES[s],
    render: () => settingsForm({
      table: desc.security_group, current: g.settings, sections: [s],
      save: (v) => api.patch(path, { settings: v }),
      saved: `${SECTION_TITLES[s]} settings of ${g.name} saved.`,
    }),
  })), { label: 'Settings of ' + g.name, selected: ctx.arg[1] });
  return h('div.page',
    h('p', h('a', { href: `#/n/${encodeURIComponent(ctx.nid)}/security-groups` }, '← All security groups')),
    h('h2.group-title', g.name, ' ', g.is_default ? badge('default') : null, ` — ${g.users} user${g.users === 1 ? '' : 's'}`),
    section('Settings', t),
    section('Name', rename),
    g.is_default ? null : section('Delete', h('p', 'Its users move to the default group.'), action('Delete group', async () => {
      if (!(await confirmDialog(`Delete security group ${g.name}? Its ${g.users} users move to the default group.`, 'Delete group'))) return;
      await api.del(path);
      notify(`${g.name} deleted.`);
      ctx.go(`#/n/${encodeURIComponent(ctx.nid)}/security-groups`);
    }, 'danger')));
}

export default async function (ctx) {
  if (ctx.arg[0]) return details(ctx, ctx.arg[0]);
  const { security_groups: groups } = await api.get(api.net(ctx.nid, '/security-groups'));
  const base = `#/n/${encodeURIComponent(ctx.nid)}/security-groups/`;
  return h('div.page',
    section('Groups', table([
      { label: 'Group', get: (g) => [h('a', { href: base + g.id }, g.name), g.is_default ? ' ' : '', g.is_default ? badge('default') : ''] },
      { label: 'Users', get: (g) => String(g.users) },
      { label: 'Updated', get: (g) => fmtTime(g.updated_at) },
    ], groups, { label: 'Security groups' })),
    section('Create a group', form({
      fields: [{ name: 'name', label: 'Group name', required: true, help: 'It starts with the default settings; change them on its page.' }],
      submit: 'Create group',
      onSubmit: async (v) => {
        const g = await api.post(api.net(ctx.nid, '/security-groups'), v);
        notify(`${g.name} created.`);
        ctx.go(base + g.id);
      },
    })));
}
