// bulk.js - Manage Users: suspend or delete many users from a CSV file
// (the template, or the directory export with the rows to keep removed).
// The file is sent in batches so the progress bar shows real progress;
// each batch is checked whole by the server before it changes anything.

import * as api from '../api.js';
import { h, section, table, button, notify, clear, download, nextId } from '../ui.js';

const BATCH = 200;

/* Split CSV text into records (quoted fields may hold line breaks). */
export function csvRecords(text) {
  const out = [];
  let start = 0, quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if ((c === '\n' || c === '\r') && !quoted) {
      if (i > start) out.push(text.slice(start, i));
      if (c === '\r' && text[i + 1] === '\n') i++;
      start = i + 1;
    }
  }
  if (start < text.length && text.slice(start).trim()) out.push(text.slice(start));
  return out;
}

const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

export default async function (ctx) {
  const nid = ctx.nid;
  let file = null;
  const inputId = nextId();
  const fileName = h('p.help', { 'aria-live': 'polite' }, 'No file chosen.');
  const input = h('input', { type: 'file', id: inputId, accept: '.csv,text/csv', onchange: () => choose(input.files[0]) });
  const zone = h('div.dropzone', { tabIndex: -1 },
    h('p', 'Drop a CSV file here, or '), h('label.button', { htmlFor: inputId }, 'Choose a file'), input, fileName);
  input.classList.add('visually-hidden');
  const choose = (f) => {
    file = f || null;
    fileName.textContent = file ? `Chosen: ${file.name} (${file.size} bytes)` : 'No file chosen.';
  };
  zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    if (ev.dataTransfer.files.length) choose(ev.dataTransfer.files[0]);
  });

  const opId = nextId();
  const op = h('fieldset.checks', h('legend', 'Action'),
    h('span.check', h('input', { type: 'radio', name: opId, id: opId + 's', value: 'suspend', checked: true }), h('label', { htmlFor: opId + 's' }, 'Suspend the users')),
    h('span.check', h('input', { type: 'radio', name: opId, id: opId + 'd', value: 'delete' }), h('label', { htmlFor: opId + 'd' }, 'Delete the users')));
  const ackId = nextId();
  const ack = h('div.field.check', { hidden: true },
    h('input', { type: 'checkbox', id: ackId }),
    h('label', { htmlFor: ackId }, 'I understand that deleting users removes their accounts, devices and queued messages, and cannot be undone.'));
  op.addEventListener('change', () => { ack.hidden = op.querySelector('input:checked').value !== 'delete'; });
  const progress = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Progress' });
  const status = h('p', { role: 'status' });
  const result = h('div');
  const err = h('p.error', { role: 'alert', hidden: true });

  const runIt = async () => {
    err.hidden = true;
    clear(result);
    const del = op.querySelector('input:checked').value === 'delete';
    if (!file) { err.textContent = 'Choose a CSV file first.'; err.hidden = false; return; }
    if (del && !ack.querySelector('input').checked) { err.textContent = 'Tick the acknowledgement to delete users.'; err.hidden = false; ack.querySelector('input').focus(); return; }
    const recs = csvRecords(await file.text());
    if (recs.length < 2) { err.textContent = 'The file has no user rows: the first line is the header (username), then one user a line.'; err.hidden = false; return; }
    const [header, ...rows] = recs;
    const total = { processed: 0, succeeded: 0, failed: [] };
    progress.hidden = false;
    progress.value = 0;
    progress.max = rows.length;
    runBtn.disabled = true;
    try {
      for (let i = 0; i < rows.length; i += BATCH) {
        const part = [header, ...rows.slice(i, i + BATCH)].join('\r\n') + '\r\n';
        const body = { csv_base64: b64(part) };
        if (del) body.acknowledge_deletion = true;
        const r = await api.post(api.net(nid, `/bulk-users/${del ? 'delete' : 'suspend'}`), body);
        total.processed += r.processed;
        total.succeeded += r.succeeded;
        total.failed.push(...(r.failed || []).map((f) => ({ ...f, row: f.row + i })));
        progress.value = Math.min(rows.length, i + BATCH);
        status.textContent = `${progress.value} of ${rows.length} rows processed…`;
      }
      status.textContent = `Done: ${total.processed} rows processed, ${total.succeeded} users ${del ? 'deleted' : 'suspended'}, ${total.failed.length} failed.`;
      notify(status.textContent);
      if (total.failed.length) {
        result.append(table([
          { label: 'Row', get: (f) => String(f.row) },
          { label: 'Username', get: (f) => f.username || '—' },
          { label: 'Reason', get: (f) => f.reason },
        ], total.failed, { caption: 'Rows that failed', label: 'Rows that failed' }));
      }
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      status.textContent = '';
    } finally {
      runBtn.disabled = false;
    }
  };
  const runBtn = button('Run', runIt, 'primary');

  return h('div.page',
    section('1. Get the file',
      h('p', 'Use the template (a username column), or the directory export with only the rows to act on.'),
      h('div.actions',
        download('Download template', api.url(api.net(nid, '/bulk-users/template.csv')), 'bulk-users.csv'),
        download('Download directory (CSV)', api.url(api.net(nid, '/users.csv')), 'users.csv'))),
    section('2. Upload and run', zone, op, ack, err, h('div.actions', runBtn), progress, status, result));
}
