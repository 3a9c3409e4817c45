// ui.js - small DOM helpers shared by every page: elements, forms whose
// API errors land next to the field they concern, tables, settings forms
// built from the server's settings tables, notices and confirmations.
// Text always goes through textContent: nothing here parses HTML.

import { ApiError } from './api.js';

let uid = 0;
export const nextId = (p = 'f') => `${p}-${++uid}`;

/* h('tag.class#id', {attr: v, onclick: fn}, ...children) */
export function h(spec, attrs, ...children) {
  const [, tag, rest] = /^([a-z0-9-]+)(.*)$/i.exec(spec);
  const e = document.createElement(tag);
  for (const m of rest.matchAll(/([.#])([\w-]+)/g)) {
    if (m[1] === '.') e.classList.add(m[2]);
    else e.id = m[2];
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k in e && k !== 'list' && k !== 'form') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(e) {
  while (e.firstChild) e.firstChild.remove();
  return e;
}

/* Announce a short message in the page's live region. */
export function notify(text, kind = 'ok') {
  const n = document.getElementById('notice');
  if (!n) return;
  clear(n);
  n.className = 'notice ' + kind;
  n.append(text);
  n.hidden = false;
  clearTimeout(notify.t);
  notify.t = setTimeout(() => { n.hidden = true; }, 6000);
}

export const fmtTime = (t) => (t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—');

/* A page section: heading plus content. */
export function section(title, ...content) {
  const id = nextId('s');
  return h('section.card', { 'aria-labelledby': id }, h('h2', { id }, title), content);
}

export function errorBox(err) {
  return h('p.error', { role: 'alert' }, err instanceof Error ? err.message : String(err));
}

export function button(label, onclick, cls = '') {
  return h('button' + (cls ? '.' + cls : ''), { type: 'button', onclick }, label);
}

/* A button that runs an async action: disabled while it runs, errors
 * announced. */
export function action(label, fn, cls = '') {
  const b = button(label, async () => {
    b.disabled = true;
    try {
      await fn();
    } catch (e) {
      notify(e.message, 'bad');
    } finally {
      b.disabled = false;
    }
  }, cls);
  return b;
}

/* Ask before something that cannot be undone. Resolves true or false. */
export function confirmDialog(text, confirmLabel = 'Confirm') {
  return new Promise((resolve) => {
    const d = h('dialog.confirm', { 'aria-label': 'Confirm' });
    const done = (v) => { d.close(); d.remove(); resolve(v); };
    d.append(h('p', text), h('div.actions',
      button('Cancel', () => done(false)),
      button(confirmLabel, () => done(true), 'danger')));
    d.addEventListener('cancel', () => done(false));
    document.body.append(d);
    d.showModal();
  });
}

/* A form. fields: [{name, label, type, value, required, help, options:
 * [[value, label]], min, max, autocomplete, placeholder, accept}]. Types:
 * text, password, number, email, url, checkbox, select, textarea, lines (a
 * textarea giving an array, one item a line), file, hidden. onSubmit gets the
 * values and may return a message; ApiErrors are shown next to the field the
 * server names, or above the buttons. */
export function form({ fields, submit = 'Save', onSubmit, extra, cls = '' }) {
  const f = h('form.form' + (cls ? '.' + cls : ''), { noValidate: true });
  const controls = {};
  const errs = {};
  for (const fd of fields) {
    const row = field(fd, controls, errs);
    if (row) f.append(row);
  }
  const formErr = h('p.error', { role: 'alert', hidden: true });
  const btn = h('button.primary', { type: 'submit' }, submit);
  f.append(formErr, h('div.actions', btn, extra || null));
  f.controls = controls;
  f.values = () => values(fields, controls);
  f.showError = (e) => showError(e, fields, errs, controls, formErr);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const e of Object.values(errs)) { e.hidden = true; e.textContent = ''; }
    for (const c of Object.values(controls)) c.removeAttribute('aria-invalid');
    formErr.hidden = true;
    // The browser's own checks first (required, bounds), with our wording.
    for (const fd of fields) {
      const c = controls[fd.name];
      if (c && c.willValidate && !c.checkValidity()) {
        showError(new ApiError(400, 'invalid', `${fd.label}: ${c.validationMessage}`), fields, errs, controls, formErr, fd.name);
        return;
      }
    }
    btn.disabled = true;
    try {
      const msg = await onSubmit(await values(fields, controls), f);
      if (msg) notify(msg);
    } catch (e) {
      showError(e, fields, errs, controls, formErr);
    } finally {
      btn.disabled = false;
    }
  });
  return f;
}

function field(fd, controls, errs) {
  const id = nextId();
  const errId = id + '-err', helpId = id + '-help';
  let c;
  const common = { id, name: fd.name, required: fd.required, 'aria-describedby': `${fd.help ? helpId : ''} ${errId}`.trim() };
  switch (fd.type || 'text') {
    case 'hidden':
      return null;
    case 'checkbox':
      c = h('input', { ...common, type: 'checkbox', checked: !!fd.value });
      break;
    case 'select':
      c = h('select', common, (fd.options || []).map(([v, l]) => h('option', { value: String(v), selected: String(v) === String(fd.value ?? '') }, l)));
      break;
    case 'textarea':
    case 'lines':
      c = h('textarea', { ...common, rows: fd.rows || 4, placeholder: fd.placeholder });
      c.value = Array.isArray(fd.value) ? fd.value.join('\n') : fd.value ?? '';
      break;
    case 'file':
      c = h('input', { ...common, type: 'file', accept: fd.accept });
      break;
    case 'checks': {
      // A group of checkboxes giving an array of the checked values.
      const chosen = new Set((fd.value || []).map(String));
      c = h('fieldset.checks', { id, 'aria-describedby': common['aria-describedby'] }, h('legend', fd.label),
        (fd.options || []).length ? fd.options.map(([v, l]) => {
          const cid = nextId();
          return h('span.check', h('input', { type: 'checkbox', id: cid, value: String(v), checked: chosen.has(String(v)) }), h('label', { htmlFor: cid }, l));
        }) : h('p.help', fd.empty || 'None to choose from.'));
      controls[fd.name] = c;
      errs[fd.name] = h('p.field-error', { id: errId, hidden: true });
      return h('div.field', c, fd.help ? h('p.help', { id: helpId }, fd.help) : null, errs[fd.name]);
    }
    default:
      c = h('input', { ...common, type: fd.type || 'text', min: fd.min, max: fd.max, autocomplete: fd.autocomplete || (fd.type === 'password' ? 'new-password' : 'off'), placeholder: fd.placeholder, maxLength: fd.maxLength });
      if (fd.value !== undefined && fd.value !== null) c.value = fd.value;
  }
  controls[fd.name] = c;
  errs[fd.name] = h('p.field-error', { id: errId, hidden: true });
  const help = fd.help ? h('p.help', { id: helpId }, fd.help) : null;
  if (fd.type === 'checkbox')
    return h('div.field.check', c, h('label', { htmlFor: id }, fd.label), help, errs[fd.name]);
  return h('div.field' + (fd.required ? '.required' : ''), h('label', { htmlFor: id }, fd.label), c, help, errs[fd.name]);
}

async function values(fields, controls) {
  const out = {};
  for (const fd of fields) {
    if (fd.type === 'hidden') { out[fd.name] = fd.value; continue; }
    const c = controls[fd.name];
    switch (fd.type || 'text') {
      case 'checkbox': out[fd.name] = c.checked; break;
      case 'number': out[fd.name] = c.value === '' ? undefined : Number(c.value); break;
      case 'lines': out[fd.name] = c.value.split('\n').map((s) => s.trim()).filter(Boolean); break;
      case 'checks': out[fd.name] = [...c.querySelectorAll('input:checked')].map((i) => (fd.numeric ? Number(i.value) : i.value)); break;
      case 'file': out[fd.name] = c.files[0] || null; break;
      default: out[fd.name] = c.value;
    }
  }
  return out;
}

function showError(e, fields, errs, controls, formErr, name) {
  const target = name || (e instanceof ApiError && e.field && errs[e.field] ? e.field : null);
  if (target) {
    errs[target].textContent = e.message;
    errs[target].hidden = false;
    controls[target].setAttribute('aria-invalid', 'true');
    (controls[target].matches('fieldset') ? controls[target].querySelector('input') || controls[target] : controls[target]).focus();
  } else {
    formErr.textContent = e.message;
    formErr.hidden = false;
  }
}

/* A table: columns [{label, get: (row) => text | Node}], with an empty
 * message. */
export function table(columns, rows, { empty = 'Nothing here yet.', caption, label } = {}) {
  if (!rows.length) return h('p.empty', empty);
  return h('div.table-wrap', { role: 'region', 'aria-label': label || caption || 'table', tabIndex: 0 },
    h('table', caption ? h('caption', caption) : null,
      h('thead', h('tr', columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', rows.map((r) => h('tr', columns.map((c) => h('td', { dataset: { label: c.label } }, c.get(r))))))));
}

export const SECTION_TITLES = {
  general: 'General', messaging: 'Messaging', calling: 'Calling', security: 'Security',
  push: 'Push Config', federation: 'Federation', network: 'Network', settings: 'Settings',
  room_bot: 'Room bot',
};

// Labels that the setting's name does not spell well.
const LABELS = {
  tcp_calling_port: 'TCP calling port', allow_private_ips: 'Allow private IP addresses',
  atak: 'ATAK integration', ssl_certificates: 'SSL certificates', max_upload_bytes: 'Largest upload (bytes)',
  max_expiration: 'Max expiration (seconds)', room_bot_enabled: 'Room bot enabled',
};

/* Form fields for entries of a settings table (GET /settings,
 * deployment/settings, options) with current values. */
export function settingFields(table, current) {
  return table.map((s) => {
    const label = LABELS[s.name] || s.name.replace(/_/g, ' ').replace(/^./, (x) => x.toUpperCase());
    const value = current[s.name] ?? s.default;
    const help = s.help + (s.enforced === 'client' ? ' (applied by clients)' : '');
    switch (s.type) {
      case 'boolean': return { name: s.name, label, type: 'checkbox', value, help };
      case 'integer': return { name: s.name, label, type: 'number', value, min: s.min, max: s.max, help: `${help} From ${s.min} to ${s.max}.` };
      case 'enum': return { name: s.name, label, type: 'select', value, options: s.choices.map((c) => [c, c]), help };
      case 'string_list': return { name: s.name, label, type: 'lines', value, help: `${help} One a line.` };
      default: return { name: s.name, label, type: 'text', value, help };
    }
  });
}

/* Tabs (WAI-ARIA tabs pattern): [{id, label, render: () => Node}]. */
export function tabs(list, { label, selected } = {}) {
  const bar = h('div.tabs', { role: 'tablist', 'aria-label': label });
  const panels = h('div');
  const btns = [];
  const select = (i, focus) => {
    btns.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels.children[j].hidden = i !== j;
    });
    if (focus) btns[i].focus();
  };
  list.forEach((t, i) => {
    const id = nextId('tab');
    const b = h('button', { type: 'button', role: 'tab', id, 'aria-controls': id + '-p', onclick: () => select(i) }, t.label);
    b.addEventListener('keydown', (ev) => {
      const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (d) select((i + d + list.length) % list.length, true);
    });
    btns.push(b);
    bar.append(b);
    panels.append(h('div.tabpanel', { role: 'tabpanel', id: id + '-p', 'aria-labelledby': id, tabIndex: 0 }, t.render()));
  });
  select(Math.max(0, list.findIndex((t) => t.id === selected)));
  return h('div', bar, panels);
}

/* A link that downloads an API resource (same-origin GET with the session
 * cookie; the server sends Content-Disposition). */
export function download(label, href, filename) {
  return h('a.button', { href, download: filename || true }, label);
}

/* File bytes as base64 (for the JSON bodies that carry files). */
export async function fileBase64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export const badge = (text, cls = '') => h('span.badge' + (cls ? '.' + cls : ''), text);

/* A panel that shows one form at a time (an edit form under a list):
 * show(title, node) replaces its content and moves focus to it. */
export function panel() {
  const p = h('section.card.inline-edit', { hidden: true, tabIndex: -1 });
  p.show = (title, ...content) => {
    clear(p).append(h('h2', title), ...content, h('div.actions', button('Close', () => { p.hidden = true; })));
    p.hidden = false;
    p.scrollIntoView({ block: 'nearest' });
    const first = p.querySelector('input, select, textarea, button');
    (first || p).focus();
  };
  p.close = () => { p.hidden = true; };
  return p;
}
