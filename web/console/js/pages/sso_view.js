// sso_view.js - SSO Configuration (OpenID Connect), for administrators'
// sign-in (deployment) or a network's users. The client secret is
// write-only: the API says only whether one is set.

import * as api from '../api.js';
import { h, form, section, errorBox } from '../ui.js';

export async function ssoView(path, intro) {
  let s;
  try {
    s = await api.get(path);
  } catch (e) {
    // Nothing configured yet is a 404 too; a missing route is not.
    if (e.status !== 404 || /no such endpoint/.test(e.message)) {
      return h('div.page', section('SSO configuration', h('p', intro), errorBox(e)));
    }
    s = { enabled: false, scopes: 'openid email profile', token_grace_period_minutes: 0 };
  }
  const sync = s.security_group_sync || {};
  const f = form({
    fields: [
      { name: 'enabled', label: 'Sign in with SSO', type: 'checkbox', value: s.enabled },
      { name: 'company_id', label: 'Company ID', value: s.company_id, help: 'Users type it to find this sign-in; unique per network.' },
      { name: 'issuer_url', label: 'Issuer URL', type: 'url', value: s.issuer_url, placeholder: 'https://idp.example.com/realms/acme', help: 'The OpenID Connect issuer (its /.well-known/openid-configuration is read from there).' },
      { name: 'client_id', label: 'Client ID', value: s.client_id },
      { name: 'client_secret', label: 'Client secret', type: 'password', help: s.client_secret_set ? 'A secret is set. Leave empty to keep it.' : 'No secret is set.' },
      { name: 'scopes', label: 'Scopes', value: s.scopes || 'openid email profile' },
      { name: 'username_claim', label: 'Username from', type: 'select', value: s.username_claim || 'email', options: [['email', 'Email address (verified by the provider)'], ['preferred_username', 'Preferred username']], help: 'The ID token claim that names the Parley user.' },
      { name: 'auto_provision', label: 'Create users at their first sign-in', type: 'checkbox', value: s.auto_provision ?? true, help: 'Off: only users that already exist in this network may sign in.' },
      { name: 'token_grace_period_minutes', label: 'Token grace period', type: 'select', value: String(s.token_grace_period_minutes ?? 0), options: [['0', 'None'], ['30', '30 minutes'], ['60', '60 minutes']], help: 'How long users stay signed in when the identity provider cannot be reached to refresh their token.' },
      { name: 'sync_enabled', label: 'Synchronise security groups from the identity provider', type: 'checkbox', value: sync.enabled },
      { name: 'sync_ou', label: 'Organisational unit to synchronise', value: sync.ou || '' },
    ],
    onSubmit: async (v) => {
      const body = {
        enabled: v.enabled, company_id: v.company_id, issuer_url: v.issuer_url, client_id: v.client_id,
        scopes: v.scopes, username_claim: v.username_claim, auto_provision: v.auto_provision,
        token_grace_period_minutes: Number(v.token_grace_period_minutes),
        security_group_sync: { enabled: v.sync_enabled, ou: v.sync_ou },
      };
      if (v.client_secret) body.client_secret = v.client_secret;
      try {
        await api.put(path, body);
      } catch (e) {
        if (e.field && e.field.startsWith('security_group_sync')) e.field = e.field.endsWith('ou') ? 'sync_ou' : 'sync_enabled';
        throw e;
      }
      return 'SSO configuration saved.';
    },
  });
  return h('div.page', section('SSO configuration', h('p', intro),
    s.network_endpoint ? h('p', 'Redirect URI to register with the identity provider: ', h('code', s.network_endpoint)) : null,
    f));
}
