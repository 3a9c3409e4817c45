/* fuzz_client_frame.c - WebSocket frames from the server: binary
 * deliveries and JSON control messages. */
#include "client/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame_delivery d;
    struct frame_ctl c;

    if (frame_delivery_parse(data, size, &d) == 0 &&
        (d.delivery != data + 17 || d.len + 17 != size))
        __builtin_trap();
    if (frame_ctl_parse((const char *)data, size, &c) == 0 && c.code[sizeof(c.code) - 1] != '\0')
        __builtin_trap();
    return 0;
}
