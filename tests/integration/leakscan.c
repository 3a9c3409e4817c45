/* leakscan.c - see leakscan.h. */
#include "leakscan.h"
#include "provision.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long long seen;

long long leakscan_places_seen(void)
{
    return seen;
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    size_t n = strlen(needle), cap = 1 << 20, have = 0;
    char *buf;
    int found = 0;

    if (!f)
        return -1;
    buf = malloc(cap + n);
    /* Read in blocks, keeping the last n-1 bytes so a match across two
     * blocks is found. */
    for (;;) {
        size_t r = fread(buf + have, 1, cap, f);
        if (r == 0)
            break;
        have += r;
        if (memmem(buf, have, needle, n)) {
            found = 1;
            break;
        }
        size_t keep = have < n - 1 ? have : n - 1;
        memmove(buf, buf + have - keep, keep);
        have = keep;
    }
    free(buf);
    fclose(f);
    return found;
}

static long long scan_dir(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long long hits = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char path[1024];
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            long long h = scan_dir(path, needle);
            if (h < 0) {
                closedir(d);
                return -1;
            }
            hits += h;
        } else if (S_ISREG(sb.st_mode)) {
            int h = file_has(path, needle);
            seen++;
            if (h < 0) {
                fprintf(stderr, "# leakscan: cannot read %s\n", path);
                closedir(d);
                return -1;
            }
            if (h) {
                fprintf(stderr, "# leakscan: found in %s\n", path);
                hits++;
            }
        }
    }
    closedir(d);
    return hits;
}

/* Every base table of the current schema, each row as text: text columns
 * verbatim and bytea columns as hex, so both are searched. */
long long leakscan_pg(struct parleyd *p, const char *needle)
{
    char hex[512], sql[2048];
    size_t n = strlen(needle);
    long long tables, hits;

    if (2 * n + 1 > sizeof(hex))
        return -1;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)needle[i]);
    tables = harness_provision_count(p, "SELECT COUNT(*) FROM information_schema.tables WHERE "
                                        "table_schema = current_schema() AND table_type = "
                                        "'BASE TABLE'");
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM information_schema.tables t WHERE "
             "t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND "
             "(xpath('/row/c/text()', query_to_xml(format('SELECT COUNT(*) AS c FROM %%I x "
             "WHERE x::text LIKE %%L OR x::text LIKE %%L', t.table_name, '%%%s%%', '%%%s%%'), "
             "false, true, '')))[1]::text::int > 0",
             needle, hex);
    hits = harness_provision_count(p, sql);
    if (tables <= 0 || hits < 0)
        return -1;
    seen += tables;
    if (hits)
        fprintf(stderr, "# leakscan: found in %lld PostgreSQL tables\n", hits);
    return hits;
}

long long leakscan(struct parleyd *p, const char *needle)
{
    long long hits, h;

    seen = 0;
    if (strchr(needle, '\'') || strchr(needle, '%') || strchr(needle, '_'))
        return -1; /* keep the SQL above simple: pick a plain needle */
    if ((hits = scan_dir(p->dir, needle)) < 0)
        return -1;
    /* Without a store URI the database is SQLite, in the data directory
     * (parley.db and its -wal), already read above. */
    if (!p->store_uri)
        return hits;
    h = leakscan_pg(p, needle);
    return h < 0 ? -1 : hits + h;
}
