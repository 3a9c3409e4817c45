// sso.js - SSO Configuration for network administrators' sign-in.
import { ssoView } from './sso_view.js';

export default () => ssoView('/sso', 'Let network administrators sign in to this console through your identity provider (OpenID Connect).');
