// tokens_view.js - API tokens for scripts, shared by API Access Tokens
// (deployment) and API Access (one network). The secret is shown once.

import * as api from '../api.js';
import { h, form, section, table, action, confirmDialog, notify, fmtTime, badge, clear } from '../ui.js';

export async function tokensView(ctx, { base, deployment }) {
  const [{ tokens }, { permissions }] = await Promise.all([api.get(base), api.get('/permissions')]);
  const shown = h('div', { role: 'status' });
  const fields = [{ name: 'label', label: 'Label', required: true, help: 'What the token is for, for example "nightly export".' }];
  if (deployment) {
    fields.push({ name: 'scope', label: 'Scope', type: 'select', options: [['deployment', 'Deployment (every network)'], ['network', 'One network']] },
      { name: 'network_id', label: 'Network (for a network token)', type: 'select', options: [['', '—'], ...ctx.networks.map((n) => [n.network_id, n.name])] });
  }
  fields.push({ name: 'permissions', label: 'Permissions', type: 'checks', options: permissions.map((p) => [p, p]), help: 'None checked: the default set (your own for a deployment token, a network administrator\'s for a network token).' });
  const create = form({
    fields,
    submit: 'Create token',
    onSubmit: async (v, f) => {
      const body = { label: v.label };
      if (v.permissions.length) body.permissions = v.permissions;
      if (deployment) {
        body.scope = v.scope;
        if (v.scope === 'network') body.network_id = v.network_id;
      }
      const t = await api.post(base, body);
      f.reset();
      clear(shown).append(h('div.info',
        h('p', `Token "${t.label}" created. Copy it now: it is not shown again.`),
        h('p', h('code.token-secret', { 'aria-label': 'new API token' }, t.token)),
        h('p.help', 'Send it as "Authorization: Bearer <token>".')));
      await refresh();
    },
  });
  const list = h('div');
  const refresh = async () => {
    const all = (await api.get(base)).tokens;
    clear(list).append(render(all));
  };
  const render = (rows) => table([
    { label: 'Label', get: (t) => t.label },
    { label: 'Scope', get: (t) => (t.scope === 'network' ? `network ${(ctx.networks.find((n) => n.network_id === t.network_id) || { name: t.network_id }).name}` : t.scope) },
    { label: 'Permissions', get: (t) => t.permissions.join(', ') },
    { label: 'Created', get: (t) => `${fmtTime(t.created_at)}${t.created_by ? ' by ' + t.created_by : ''}` },
    { label: 'Last used', get: (t) => fmtTime(t.last_used) },
    { label: 'Status', get: (t) => (t.revoked_at ? badge('revoked', 'suspended') : badge('active', 'active')) },
    { label: 'Actions', get: (t) => (t.revoked_at ? '' : action('Revoke', async () => {
      if (!(await confirmDialog(`Revoke token "${t.label}"? Scripts using it stop working at once.`, 'Revoke'))) return;
      await api.del(`${base}/${t.id}`);
      notify('Token revoked.');
      await refresh();
    }, 'danger')) },
  ], rows, { empty: 'No API token yet.', label: 'API tokens' });
  list.append(render(tokens));
  return h('div.page', section('Create a token', shown, create), section('Tokens', list));
}
