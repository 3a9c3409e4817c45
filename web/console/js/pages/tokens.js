// tokens.js - API Access Tokens (super administrator).
import { tokensView } from './tokens_view.js';

export default (ctx) => tokensView(ctx, { base: '/tokens', deployment: true });
