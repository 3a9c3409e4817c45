/* fuzz_client_body.c - the validators of the client API's request bodies
 * (api_client_util.c field tables) and of the WebSocket "ack" message. The
 * first byte picks the table; the rest is the body. */
#include "server/api_client_util.h"
#include "server/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_body b;
    char err[256];
    unsigned kind;

    if (size < 1)
        return 0;
    kind = data[0] % (API_BODY_COUNT + 1);
    if (kind == API_BODY_COUNT) {
        static int64_t seqs[WS_MAX_ACK];
        const char *type;
        json_t *msg;
        if (ws_parse(data + 1, size - 1, &msg, &type, err, sizeof(err)) == 0) {
            int n = ws_parse_ack(msg, seqs, err, sizeof(err));
            if (n > WS_MAX_ACK)
                __builtin_trap();
            json_decref(msg);
        }
        return 0;
    }
    if (api_body_parse(data + 1, size - 1, api_body_fields[kind], api_body_nfields[kind], &b, err,
                       sizeof(err)) == 0) {
        /* Every required field is there and within its limits. */
        for (size_t i = 0; i < b.n; i++) {
            const struct api_field *f = &api_body_fields[kind][i];
            if (f->required && !b.v[i].present)
                __builtin_trap();
            if (b.v[i].present && f->kind == API_B64 &&
                (b.v[i].binlen == 0 || b.v[i].binlen > f->max))
                __builtin_trap();
            if (b.v[i].present && f->kind == API_IDS && b.v[i].n_ids > f->max)
                __builtin_trap();
        }
    } else if (!err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    api_body_release(&b);
    return 0;
}
