// appearance.js - Appearance: the logo and the text on the sign-in page.

import * as api from '../api.js';
import { h, form, section, fileBase64, notify } from '../ui.js';

export default async function (ctx) {
  const a = await api.get('/deployment/appearance');
  const preview = h('div.logo-preview', a.logo
    ? h('img', { src: '/api/v1/appearance/logo?' + Date.now(), alt: 'Current logo', height: 64 })
    : h('p.empty', 'No custom logo: the sign-in page shows the Parley mark.'));
  const f = form({
    fields: [
      { name: 'login_text', label: 'Sign-in text', type: 'textarea', value: a.login_text, help: 'Shown under the logo on the sign-in page, for example who to call for help.' },
      { name: 'logo', label: 'Logo', type: 'file', accept: 'image/png,image/jpeg', help: 'PNG or JPEG.' },
      { name: 'remove_logo', label: 'Remove the custom logo', type: 'checkbox' },
    ],
    onSubmit: async (v) => {
      const body = { login_text: v.login_text };
      if (v.logo) body.logo_base64 = await fileBase64(v.logo);
      if (v.remove_logo) body.remove_logo = true;
      try {
        await api.put('/deployment/appearance', body);
      } catch (e) {
        if (e.field === 'logo_base64') e.field = 'logo';
        throw e;
      }
      notify('Appearance saved.');
      ctx.reload();
    },
  });
  return h('div.page', section('Current logo', preview), section('Sign-in page', f));
}
