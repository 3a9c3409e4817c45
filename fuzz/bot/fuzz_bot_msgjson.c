/* fuzz_bot_msgjson.c - a received payload (written by another client:
 * outside bytes) turned into the message JSON pushed to a bot: the result
 * is NULL or a JSON object with the envelope's fields. */
#include "bot/engine/msgjson.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parley_event ev;
    char *body = malloc(size + 1);

    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    memset(&ev, 0, sizeof(ev));
    ev.type = PARLEY_EVENT_MESSAGE;
    memcpy(ev.msg_id, "0123456789abcdef0123456789abcdef", PARLEY_ID_HEX);
    memcpy(ev.conv_id, "4123456789abcdef0123456789abcdef", PARLEY_ID_HEX);
    memcpy(ev.sender, "00112233445566778899aabbccddeeff", PARLEY_ID_HEX);
    ev.msgtype = size > 0 ? data[0] * 40 : 1000;
    ev.ts_ms = (int64_t)size * 1234567;
    ev.expires_at = size > 1 ? data[1] * 1000u : 0;
    ev.burn_on_read = size > 2 && (data[2] & 1);
    ev.body = body;
    char *out = msgjson_build(&ev, "Sabc", size % 2 ? "bot" : NULL);
    if (out) {
        json_t *j = json_loads(out, 0, NULL);
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "vgroupid")) ||
            !json_is_string(json_object_get(j, "message_id")))
            __builtin_trap();
        json_decref(j);
        free(out);
    }
    free(body);
    return 0;
}
