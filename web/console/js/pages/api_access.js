// api_access.js - API Access: tokens for scripts that manage one network.
import * as api from '../api.js';
import { tokensView } from './tokens_view.js';

export default (ctx) => tokensView(ctx, { base: api.net(ctx.nid, '/tokens'), deployment: false });
