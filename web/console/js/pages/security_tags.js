// security_tags.js - Security Tags: coloured labels shown next to the
// users of chosen security groups.

import * as api from '../api.js';
import { h, form, section, table, action, notify, confirmDialog, fmtTime } from '../ui.js';

// The colour goes through the CSSOM: the security policy forbids inline
// style attributes, not style properties set from a script.
function swatch(color) {
  const s = h('span.swatch', { 'aria-hidden': 'true' });
  s.style.background = color;
  return s;
}

export default async function (ctx) {
  const [{ security_tags: tags }, { security_groups: groups }] = await Promise.all([
    api.get(api.net(ctx.nid, '/security-tags')), api.get(api.net(ctx.nid, '/security-groups'))]);
  const gname = (id) => (groups.find((g) => g.id === id) || { name: String(id) }).name;
  return h('div.page',
    section('Tags', table([
      { label: 'Tag', get: (t) => [swatch(t.color), t.name] },
      { label: 'Colour', get: (t) => h('code', t.color) },
      { label: 'Security groups', get: (t) => t.security_groups.map(gname).join(', ') || 'none' },
      { label: 'Created', get: (t) => fmtTime(t.created_at) },
      { label: 'Actions', get: (t) => action('Delete', async () => {
        if (!(await confirmDialog(`Delete tag ${t.name}?`, 'Delete'))) return;
        await api.del(api.net(ctx.nid, `/security-tags/${t.id}`));
        notify('Tag deleted.');
        ctx.reload();
      }, 'danger') },
    ], tags, { empty: 'No security tag yet.', label: 'Security tags' })),
    section('Create a tag', form({
      fields: [
        { name: 'name', label: 'Name', required: true },
        { name: 'color', label: 'Colour', type: 'color', value: '#1d4ed8' },
        { name: 'security_groups', label: 'Security groups', type: 'checks', numeric: true, options: groups.map((g) => [g.id, g.name]) },
      ],
      submit: 'Create tag',
      onSubmit: async (v) => {
        await api.post(api.net(ctx.nid, '/security-tags'), v);
        notify(`Tag ${v.name} created.`);
        ctx.reload();
      },
    })));
}
