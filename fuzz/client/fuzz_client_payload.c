/* fuzz_client_payload.c - the message payload inside an opened envelope
 * (authenticated, but written by another client: outside bytes). */
#include "client/msgtypes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *p;
    char err[256], *enc;
    size_t len;
    int mt;

    if (msgtype_decode(data, size, &p, &mt, err, sizeof(err)) < 0)
        return 0;
    if (!msgtype_find(mt) || msgtype_encode(p, &enc, &len) < 0)
        __builtin_trap();
    free(enc);
    json_decref(p);
    return 0;
}
