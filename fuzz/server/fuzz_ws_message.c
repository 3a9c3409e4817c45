/* fuzz_ws_message.c - the parser of WebSocket client messages. */
#include "server/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *type;
    char err[256];
    json_t *msg;

    if (ws_parse(data, size, &msg, &type, err, sizeof(err)) == 0) {
        if (!type)
            __builtin_trap();
        json_decref(msg);
    }
    return 0;
}
