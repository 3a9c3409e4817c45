/* fuzz_client_response.c - the parsers of the server's JSON answers:
 * login, users, pre-key claims and conversations, all on the same input. */
#include "client/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_login l;
    struct api_user u;
    struct api_bundle *b;
    struct api_conv c;
    size_t n;
    json_t *j;

    if (api_parse((const char *)data, size, &j) < 0)
        return 0;
    if (api_login_parse(j, &l) == 0)
        api_login_release(&l);
    if (api_user_parse(j, &u) == 0) {
        for (size_t i = 0; i < u.n_devices; i++)
            if (!u.devices[i].cert)
                __builtin_trap();
        api_user_release(&u);
    }
    if (api_claim_parse(j, &b, &n) == 0)
        api_bundles_free(b, n);
    if (api_conv_parse(j, &c) == 0) {
        if (c.n_members > API_MAX_MEMBERS)
            __builtin_trap();
        api_conv_release(&c);
    }
    json_decref(j);
    return 0;
}
