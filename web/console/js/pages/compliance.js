// compliance.js - Compliance Bot (data retention): the bot account that
// receives a copy of every conversation, and its configuration file.

import * as api from '../api.js';
import { h, section } from '../ui.js';
import { botList, botForm } from './bots.js';
import { cconfForm } from './client_config.js';

export default async function (ctx) {
  const { security_groups: groups } = await api.get(api.net(ctx.nid, '/security-groups'));
  const list = await botList(ctx.nid, (b) => /compliance/i.test(b.username));
  return h('div.page',
    section('Data retention',
      h('p', 'With a compliance bot, every conversation of the network is also encrypted for the bot, which writes the retention log; clients show that conversations are retained. Add the bot before users register.')),
    section('Compliance bots', list),
    section('1. Create the compliance bot user', botForm(ctx.nid, groups, () => list.refresh(), {
      hint: 'Unique per bot and ending with "bot"; naming it after the network helps, for example "acmecompliancebot".',
      submit: 'Create compliance bot',
    })),
    section('2. Create its configuration file',
      h('p', 'Give it a short expiry (a day is enough to set up the bot), then download it and hand it to the bot runtime.'),
      await cconfForm(ctx, { groups, days: 1, name: 'compliance-bot' })));
}
