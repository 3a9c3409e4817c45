// dashboard.js - Dashboard: the network at a glance, with links to the
// pages an administrator needs most.

import * as api from '../api.js';
import { h, section } from '../ui.js';

const stat = (n, label, href) => h('a.stat', { href }, h('span.n', String(n)), h('span.l', label));

export default async function (ctx) {
  const base = `#/n/${encodeURIComponent(ctx.nid)}`;
  const [n, ov, mem, msg, sus] = await Promise.all([
    api.get(api.net(ctx.nid)),
    api.get(api.net(ctx.nid, '/analytics/overview')),
    api.get(api.net(ctx.nid, '/analytics/members')),
    api.get(api.net(ctx.nid, '/analytics/messages')),
    api.get(api.net(ctx.nid, '/users' + api.qs({ status: 'suspended', limit: 1 }))),
  ]);
  return h('div.page',
    h('div.grid',
      stat(ov.registered, 'registered users', `${base}/users`),
      stat(ov.pending, 'users not yet registered', `${base}/users`),
      stat(sus.total, 'suspended users', `${base}/users`),
      stat(ov.devices, 'devices', `${base}/analytics`),
      stat(mem.active_users_total, 'active users, last 30 days', `${base}/analytics`),
      stat(msg.messages_total, 'messages, last 30 days', `${base}/analytics`),
      stat(n.security_groups, 'security groups', `${base}/security-groups`)),
    section('Network',
      h('p', 'Name: ', h('strong', n.name), ' — network id ', h('code', n.network_id)),
      h('p', 'Read receipts: ', n.settings.read_receipts ? 'on' : 'off', '; event logging: ', n.settings.event_logging, '.'),
      h('div.actions',
        h('a.button', { href: `${base}/users` }, 'Add users'),
        h('a.button', { href: `${base}/client-config` }, 'Create a configuration file'),
        h('a.button', { href: `${base}/security-groups` }, 'Security groups'))));
}
