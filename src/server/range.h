/* range.h - the byte ranges of file transfers: "Range" on downloads
 * (RFC 9110 §14.2) and "Content-Range" on upload parts (§14.4).
 *
 * Pure parsers of header values from outside; fuzzed by
 * fuzz/server/fuzz_range.c. Only what Parley's clients send is accepted: a
 * single range, decimal offsets below 2^62. */
#ifndef PARLEY_SERVER_RANGE_H
#define PARLEY_SERVER_RANGE_H

#include "common/compat.h"

/* A download range resolved against a representation of `size` bytes:
 * bytes [first, last], both inclusive. */
struct range {
    uint64_t first, last;
};

enum range_result {
    RANGE_OK = 0,           /* *out holds a satisfiable range */
    RANGE_IGNORE = 1,       /* not a bytes range we serve: send the whole file */
    RANGE_UNSATISFIABLE = 2 /* 416: starts at or after the end */
};

/* Parse a Range value ("bytes=0-99", "bytes=100-", "bytes=-500") for a
 * representation of `size` bytes. A malformed value or a list of several
 * ranges is RANGE_IGNORE, as RFC 9110 §14.2 allows. */
enum range_result range_parse(const char *value, uint64_t size, struct range *out);

/* An upload part: bytes [first, last] of a file of `total` bytes, or of a
 * length still unknown (has_total false: a TOTAL of "*"). */
struct content_range {
    uint64_t first, last, total;
    bool has_total;
};

/* Parse a Content-Range value "bytes FIRST-LAST/TOTAL" or
 * "bytes FIRST-LAST/" followed by "*". Returns 0, or PARLEY_EINVAL with a reason in err
 * (what to send instead). */
int content_range_parse(const char *value, struct content_range *out, char *err, size_t errlen);

#endif
