/* fuzz_admin_csv.c - the CSV reader of bulk user operations: every record
 * it hands out has at most ADMIN_CSV_MAX_FIELDS NUL-terminated fields of at
 * most ADMIN_CSV_MAX_FIELD bytes, and unguarding a field stays in it. */
#include "server/admin_csv.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_row(void *arg, size_t row, char **fields, size_t n)
{
    size_t *rows = arg;
    if (n == 0 || n > ADMIN_CSV_MAX_FIELDS || row != *rows + 1)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (strlen(fields[i]) > ADMIN_CSV_MAX_FIELD)
            abort();
        admin_csv_unguard(fields[i]);
    }
    (*rows)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    size_t rows = 0;
    admin_csv_parse((const char *)data, size, on_row, &rows, err, sizeof(err));
    return 0;
}
