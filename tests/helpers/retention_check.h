/* retention_check.h - hold one retention log line against the field sets
 * and value formats of the functional specification's compliance message
 * description (Appendix A) and examples (Appendix B). Written from the
 * specification, independently of src/bot/rformat.c, so that a test of
 * the formatter is not the formatter checking itself. */
#ifndef PARLEY_TESTS_RETENTION_CHECK_H
#define PARLEY_TESTS_RETENTION_CHECK_H

#include <stddef.h>

/* 0 if `line` (one JSON object, no newline) is a valid line; else -1 and
 * a reason in err. */
int retention_check_line(const char *line, char *err, size_t errlen);

#endif
