// crash_report.js - Crash Report: what to send with a problem report
// (versions, store, effective configuration, recent log), as one download.

import * as api from '../api.js';
import { h, section, button } from '../ui.js';

export default async function () {
  const r = await api.get('/deployment/crash-report');
  const text = JSON.stringify(r, null, 2);
  const save = () => {
    const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), download: `parley-report-${r.generated_at}.json` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  };
  return h('div.page',
    section('Report',
      h('p', `parleyd ${r.versions.parleyd}, up ${Math.round(r.uptime_seconds / 60)} min, store ${r.store.backend} (schema ${r.store.schema_version}/${r.store.schema_latest}).`),
      h('p.help', 'The report holds no password, key or token. Attach it to a problem report.'),
      h('div.actions', button('Download report', save, 'primary'))),
    section('Versions', h('ul', Object.entries(r.versions).map(([k, v]) => h('li', `${k}: ${v}`)))),
    section('Configuration', h('pre.block', { tabIndex: 0 }, r.configuration)),
    section('Recent log', r.recent_log ? h('pre.block', { tabIndex: 0 }, r.recent_log) : h('p.empty', r.recent_log_note)));
}
