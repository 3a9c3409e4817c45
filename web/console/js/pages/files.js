// files.js - File Management: the Files tab in rooms and groups, and the
// calling service's TCP port.

import { h, section } from '../ui.js';
import { networkOptionsForm } from '../settings.js';

export default async function (ctx) {
  return h('div.page',
    section('File management', await networkOptionsForm(ctx.nid, ['file_management'])),
    section('Custom TCP calling port', await networkOptionsForm(ctx.nid, ['tcp_calling_port'])));
}
