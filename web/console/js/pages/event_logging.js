// event_logging.js - Event Logging: how much the network's event log
// records.

import { h, section } from '../ui.js';
import { networkSettingForm } from '../settings.js';

export default async function (ctx) {
  return h('div.page', section('Event log',
    h('p', 'The event log records what happens in the network at the chosen level of detail. Message contents are never logged: the server cannot read them.'),
    await networkSettingForm(ctx.nid, ['event_logging'])));
}
