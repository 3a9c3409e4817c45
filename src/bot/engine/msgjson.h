/* msgjson.h - the message JSON the engine pushes to a bot (docs/bots.md,
 * "Incoming messages"): one received Parley message in the shape the npm
 * packages parse (the fields of the retention record, Appendix A/B of the
 * administration guide). */
#ifndef PARLEY_BOT_MSGJSON_H
#define PARLEY_BOT_MSGJSON_H

#include "common/compat.h"

#include <parley/parley.h>

/* The JSON text (free() it) for message event `ev` in the conversation
 * named `vgroupid`. `receiver` is the bot's username for a direct
 * conversation and NULL otherwise. Payload fields keep their names
 * ("message", "control", "file", "location", "call", "edit", ...). Returns
 * NULL when the payload is not a JSON object or on allocation failure. */
char *msgjson_build(const struct parley_event *ev, const char *vgroupid, const char *receiver);

#endif
