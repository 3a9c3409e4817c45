// account.js - My Account: name, password, two-factor authentication and
// invitations to administer networks.

import * as api from '../api.js';
import { h, clear, form, section, table, action, notify } from '../ui.js';

/* Two-factor enrolment into `container`: QR code and secret, then a code
 * to confirm. Calls done() once it is on. */
export async function totpEnrolment(container, done) {
  const t = await api.post('/me/totp/begin');
  const qr = h('img.qr', { src: 'data:image/svg+xml;base64,' + btoa(t.qr_svg), alt: 'QR code of the two-factor secret', width: 200, height: 200 });
  const f = form({
    fields: [{ name: 'code', label: 'Code from the app', required: true, autocomplete: 'one-time-code', help: 'Scan the QR code (or type the secret) into an authenticator app, then enter the 6-digit code it shows.' }],
    submit: 'Turn on two-factor',
    onSubmit: async (v) => {
      await api.post('/me/totp/confirm', { code: v.code.replace(/\s/g, '') });
      notify('Two-factor authentication is on.');
      await done();
    },
  });
  clear(container).append(h('div.totp', qr, h('p', 'Secret: ', h('code.secret', { 'aria-label': 'two-factor secret' }, t.secret))), f);
  f.controls.code.focus();
}

export default async function (ctx) {
  const me = await api.get('/me');
  const profile = form({
    fields: [
      { name: 'first_name', label: 'First name', value: me.first_name },
      { name: 'last_name', label: 'Last name', value: me.last_name },
    ],
    onSubmit: async (v) => { await api.patch('/me', v); return 'Your name is saved.'; },
  });
  const pw = form({
    fields: [
      { name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password' },
      { name: 'new_password', label: 'New password', type: 'password', required: true, help: 'At least 12 characters, with an uppercase letter, a lowercase letter, a digit and a symbol.' },
    ],
    submit: 'Change password',
    onSubmit: async (v, f) => {
      await api.post('/me/password', v);
      f.reset();
      return 'Your password is changed.';
    },
  });
  const totpBox = h('div');
  const renderTotp = () => {
    clear(totpBox);
    if (me.totp_enabled) {
      totpBox.append(h('p', 'Two-factor authentication is on.'), form({
        fields: [{ name: 'code', label: 'Current code', required: true, autocomplete: 'one-time-code' }],
        submit: 'Turn off two-factor',
        onSubmit: async (v) => { await api.post('/me/totp/disable', v); me.totp_enabled = false; renderTotp(); return 'Two-factor authentication is off.'; },
      }));
    } else {
      totpBox.append(h('p', 'Two-factor authentication is off.'), action('Set up two-factor', () =>
        totpEnrolment(totpBox, () => { me.totp_enabled = true; renderTotp(); })));
    }
  };
  renderTotp();
  const inv = (await api.get('/me/invitations')).invitations;
  return h('div.page',
    section('Profile', h('p', `Signed in as ${me.username}${me.is_super ? ' (super administrator)' : ''}.`), profile),
    section('Password', pw),
    section('Two-factor authentication', totpBox),
    section('Invitations', table([
      { label: 'Network', get: (i) => i.name || i.network_id },
      { label: 'Actions', get: (i) => h('span.row-actions',
        action('Accept', async () => { await api.post(`/me/invitations/${encodeURIComponent(i.network_id)}/accept`); notify('Invitation accepted.'); await ctx.reloadNetworks(); ctx.reload(); }),
        action('Decline', async () => { await api.del(`/me/invitations/${encodeURIComponent(i.network_id)}`); notify('Invitation declined.'); ctx.reload(); })) },
    ], inv, { empty: 'No pending invitations.', label: 'Invitations' })));
}
