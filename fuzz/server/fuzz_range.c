/* fuzz_range.c - the Range and Content-Range header values of file
 * transfers. The first byte picks the parser; for Range the next eight
 * give the file's length. Accepted ranges must lie inside the file. */
#include "server/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[256], err[160];
    uint64_t len = 0;
    size_t off = 1;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        if (size < 9)
            return 0;
        for (int i = 1; i <= 8; i++)
            len = len << 8 | data[i];
        len >>= 20; /* up to 16 TiB */
        off = 9;
    }
    if (size - off >= sizeof(s))
        return 0;
    memcpy(s, data + off, size - off);
    s[size - off] = 0;
    if (data[0] & 1) {
        struct range r;
        if (range_parse(s, len, &r) == RANGE_OK && (r.first > r.last || r.last >= len))
            __builtin_trap();
    } else {
        struct content_range cr;
        if (content_range_parse(s, &cr, err, sizeof(err)) == 0 &&
            (cr.last < cr.first || (cr.has_total && cr.last >= cr.total)))
            __builtin_trap();
    }
    return 0;
}
