/* leakscan.h - look for a string where the server keeps things: every file
 * of its data directory (logs included), its SQLite database files, or
 * every row of every table of its PostgreSQL database. Tests send a unique
 * string end to end and check that the server never held it in the clear. */
#ifndef PARLEY_TESTS_LEAKSCAN_H
#define PARLEY_TESTS_LEAKSCAN_H

#include "harness.h"

/* The number of places (files, or tables on PostgreSQL) holding `needle`,
 * each named on stderr; -1 if the scan itself failed. On SQLite, stop
 * parleyd first so that nothing is written while the files are read. */
long long leakscan(struct parleyd *p, const char *needle);

/* The PostgreSQL part alone: the number of tables holding `needle`, or -1. */
long long leakscan_pg(struct parleyd *p, const char *needle);

/* How many files and tables the last leakscan() looked at: a scan that
 * read nothing proves nothing. */
long long leakscan_places_seen(void);

#endif
