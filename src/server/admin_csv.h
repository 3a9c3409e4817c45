/* admin_csv.h - a bounded RFC 4180 reader for files administrators upload
 * (bulk user operations). The bytes come from outside: every record and
 * field has a cap, and the reader never allocates more than the input
 * (fuzz/server/fuzz_admin_csv.c). */
#ifndef PARLEY_SERVER_ADMIN_CSV_H
#define PARLEY_SERVER_ADMIN_CSV_H

#include "common/compat.h"

#define ADMIN_CSV_MAX_FIELDS 64
#define ADMIN_CSV_MAX_FIELD  1024
#define ADMIN_CSV_MAX_ROWS   100000

/* Called once per record: `row` counts records from 1 (the header is row
 * 1), fields[0..n) are NUL-terminated and valid during the call. Return 0
 * to go on, anything else to stop (admin_csv_parse then returns it). */
typedef int (*admin_csv_row_fn)(void *arg, size_t row, char **fields, size_t n);

/* Read `len` bytes of CSV: fields separated by ',', records by CRLF or LF,
 * fields optionally in double quotes with "" for a quote (RFC 4180 §2). A
 * UTF-8 byte order mark at the start is skipped; empty lines are skipped.
 * Returns 0, the callback's non-zero value, PARLEY_ENOMEM, or
 * PARLEY_EINVAL with a message naming the row in err (a stray quote, an
 * unterminated quoted field, a NUL byte, a field over ADMIN_CSV_MAX_FIELD
 * bytes, more than ADMIN_CSV_MAX_FIELDS fields or ADMIN_CSV_MAX_ROWS rows). */
int admin_csv_parse(const char *data, size_t len, admin_csv_row_fn fn, void *arg, char *err,
                    size_t errlen);

/* Undo the export's formula guard: a field that starts with a quote
 * followed by = + - @ tab or CR loses the quote. Also trims spaces and
 * tabs at both ends. Works in place; returns s. */
char *admin_csv_unguard(char *s);

#endif
