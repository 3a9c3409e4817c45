/* fuzz_admin_cookie.c - the admin session cookie's extraction from a
 * Cookie header, and the TOTP code check on the same bytes. */
#include "server/admin_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char hdr[4096], out[128];
    int64_t step = 0;

    if (size >= sizeof(hdr))
        return 0;
    memcpy(hdr, data, size);
    hdr[size] = 0;
    if (admin_auth_cookie(hdr, ADMIN_COOKIE_NAME, out, sizeof(out)))
        admin_hash(out, (char[ADMIN_HASH_LEN + 1]){0});
    admin_totp_check("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", hdr, 0, 59, &step);
    return 0;
}
