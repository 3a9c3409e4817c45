// room_bot.js - Manage Room Bot: whether network administrators may define
// default rooms that the room bot keeps every member in.

import { h, section } from '../ui.js';
import { deploymentForm } from '../settings.js';

export default async function () {
  return h('div.page', section('Room bot',
    h('p', 'The room bot adds every user of a network or security group to the default rooms its administrators define, and adds them back if they leave.'),
    await deploymentForm(['room_bot'])));
}
