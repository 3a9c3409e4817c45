// federation.js - Global Federation: talking to other deployments, the
// domains allowed, and this deployment's own domains.

import { h, section } from '../ui.js';
import { deploymentForm } from '../settings.js';

export default async function () {
  return h('div.page', section('Federation',
    h('p', 'Global federation lets users of this deployment talk to users of other deployments that agreed to federate. Network administrators then turn it on per security group.'),
    await deploymentForm(['federation'])));
}
