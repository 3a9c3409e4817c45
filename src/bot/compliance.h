/* compliance.h - the compliance (data retention) integration: every
 * message the network's compliance bot receives becomes one line of the
 * retention log (rformat.h, rlog.h, docs/retention.md). */
#ifndef PARLEY_BOT_COMPLIANCE_H
#define PARLEY_BOT_COMPLIANCE_H

#include "integ.h"

/* Run until *r->stop, or until r->restart_at_ms (returns 1). Exactly once:
 * the client's journal replays what was not marked done; each batch of
 * lines is synced before its messages are marked done; lines the log
 * already holds are recognised on start and not written again. Returns 0,
 * 1, or PARLEY_EIO when the log cannot be written (messages stay in the
 * journal). */
int compliance_run(const struct integ_run *r);

/* Save the decrypted attachment of a file message (6000) under `dir` as
 * `name` and put its full path in *path (malloc'd). Returns 0, or
 * PARLEY_ENOTSUP while the server keeps no file blobs: the line is then
 * written without "localfilename". */
int compliance_attachment_save(struct parley_client *c, const json_t *file, const char *dir,
                               const char *name, char **path);

#endif
