// read_receipts.js - Read Receipts for the network's one-to-one
// conversations.

import { h, section } from '../ui.js';
import { networkSettingForm } from '../settings.js';

export default async function (ctx) {
  return h('div.page', section('Read receipts',
    h('p', 'When on, senders of one-to-one messages see when they were read. Messages that burn on reading need receipts to be purged on time.'),
    await networkSettingForm(ctx.nid, ['read_receipts'])));
}
