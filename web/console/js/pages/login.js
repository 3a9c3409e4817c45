// login.js - signing in: password, the two-factor code when the account
// has one, the lockout message, the forced password change, and the offer
// to set up two-factor authentication after it. Shows the deployment's
// logo and sign-in text (Appearance).

import * as api from '../api.js';
import { h, clear, form, button } from '../ui.js';
import { totpEnrolment } from './account.js';

const POLICY = 'At least 12 characters, with an uppercase letter, a lowercase letter, a digit and a symbol.';

async function appearance() {
  try {
    return await api.get('/api/v1/appearance');
  } catch (e) {
    return {};
  }
}

function card(title, ...content) {
  return h('div.signin', h('div.signin-card', h('h1', title), ...content));
}

export async function signIn(container, { message, done }) {
  const look = await appearance();
  const logo = look.logo
    ? h('img.logo', { src: '/api/v1/appearance/logo', alt: 'Logo' })
    : h('img.logo', { src: '/admin/img/mark.svg', alt: '' });
  const status = h('p.error', { role: 'alert', hidden: true });
  let f;
  const fields = [
    { name: 'username', label: 'Username', required: true, autocomplete: 'username' },
    { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
    { name: 'totp', label: 'Two-factor code', autocomplete: 'one-time-code', help: 'The 6-digit code from your authenticator app.' },
  ];
  f = form({
    fields,
    submit: 'Sign in',
    cls: 'signin-form',
    onSubmit: async (v) => {
      status.hidden = true;
      const body = { username: v.username, password: v.password };
      if (v.totp) body.totp = v.totp.replace(/\s/g, '');
      let res;
      try {
        res = await api.post('/login', body);
      } catch (e) {
        if (e.code === 'totp_required') {
          totpRow.hidden = false;
          f.controls.totp.required = true;
          f.controls.totp.focus();
          throw Object.assign(e, { field: 'totp', message: 'Enter the code from your authenticator app.' });
        }
        if (e.code === 'account_locked') {
          status.textContent = 'This account is locked after too many failed sign-ins. Ask a super administrator to unlock it, or try again when the lock ends.';
          status.classList.add('locked');
          status.hidden = false;
          return;
        }
        if (e.code === 'invalid_credentials') e.message = 'Wrong username, password or code.';
        throw e;
      }
      api.setCsrf(res.csrf_token);
      if (res.must_change_password) return changePassword(container, v.password, done);
      done(await api.get('/me'));
    },
  });
  const totpRow = f.controls.totp.closest('.field');
  totpRow.hidden = true;
  clear(container).append(h('div.signin', h('div.signin-card', logo, h('h1', 'Sign in'),
    look.login_text ? h('p.login-text', look.login_text) : null,
    message ? h('p.info', { role: 'status' }, message) : null,
    status,
    f)));
  f.controls.username.focus();
}

function changePassword(container, current, done) {
  const f = form({
    fields: [
      { name: 'new_password', label: 'New password', type: 'password', required: true, help: POLICY },
      { name: 'confirm', label: 'New password again', type: 'password', required: true },
    ],
    submit: 'Change password',
    onSubmit: async (v) => {
      if (v.new_password !== v.confirm) {
        throw Object.assign(new api.ApiError(400, 'mismatch', 'The two passwords differ.'), { field: 'confirm' });
      }
      try {
        await api.post('/me/password', { current_password: current, new_password: v.new_password });
      } catch (e) {
        if (e.field === 'current_password') e.field = null;
        throw e;
      }
      const me = await api.get('/me');
      if (me.totp_enabled) return done(me);
      offerTotp(container, me, done);
    },
  });
  clear(container).append(card('Choose a new password',
    h('p', 'Your password was set by someone else or is a one-time password. Choose your own to continue.'),
    f));
  f.controls.new_password.focus();
}

function offerTotp(container, me, done) {
  const body = h('div');
  const finish = async () => done(await api.get('/me'));
  clear(container).append(card('Protect your account',
    h('p', 'Add a second step to sign-in: a code from an authenticator app on your phone.'),
    body,
    h('div.actions', button('Skip for now', finish, 'link'))));
  totpEnrolment(body, finish).catch((e) => body.append(h('p.error', { role: 'alert' }, e.message)));
}
