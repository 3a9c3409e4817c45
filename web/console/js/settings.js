// settings.js - forms over the server's settings tables: deployment
// settings, network settings and options, security groups. The table
// (name, section, type, bounds, help) comes from the API, so a setting
// added on the server shows up here without a console change.

import * as api from './api.js';
import { form, settingFields } from './ui.js';

/* A form for the entries of `table` in `sections`, saved by `save(values)`. */
export function settingsForm({ table, current, sections, save, submit = 'Save', saved = 'Settings saved.' }) {
  const entries = table.filter((s) => !sections || sections.includes(s.section));
  return form({
    fields: settingFields(entries, current),
    submit,
    onSubmit: async (v) => {
      await save(v);
      return saved;
    },
  });
}

/* Deployment settings of `sections` (super administrator). */
export async function deploymentForm(sections, opts = {}) {
  const d = await api.get('/deployment/settings');
  return settingsForm({
    table: d.table, current: d.settings, sections, ...opts,
    save: (v) => api.patch('/deployment/settings', { settings: v }),
  });
}

/* Network settings of `names` (network administrator): the network's own
 * settings (GET /settings "network" table) live in PATCH /networks/:id
 * {settings}; its options in /networks/:id/options. */
export async function networkSettingForm(nid, names, opts = {}) {
  const [desc, n] = await Promise.all([api.get('/settings'), api.get(api.net(nid))]);
  return settingsForm({
    table: desc.network.filter((s) => names.includes(s.name)), current: n.settings, ...opts,
    save: (v) => api.patch(api.net(nid), { settings: v }),
  });
}

export async function networkOptionsForm(nid, names, opts = {}) {
  const o = await api.get(api.net(nid, '/options'));
  return settingsForm({
    table: o.table.filter((s) => names.includes(s.name)), current: o.settings, ...opts,
    save: (v) => api.patch(api.net(nid, '/options'), { settings: v }),
  });
}
