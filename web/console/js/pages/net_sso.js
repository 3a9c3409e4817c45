// net_sso.js - SSO Configuration for a network's users.
import * as api from '../api.js';
import { ssoView } from './sso_view.js';

export default (ctx) => ssoView(api.net(ctx.nid, '/sso'), 'Let this network\'s users sign in through your identity provider (OpenID Connect) instead of a password.');
