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

/* Download and decrypt the attachment of file message `msg_id` (msgtype
 * 6000, in the client's journal) into `dir` as `name`, or `name` with a
 * number before its extension when that is taken, and put the full path in
 * *path (malloc'd). The file is streamed to `dir`/.incoming/<msg_id> (a
 * cut download resumes there) and moved under its name only when whole
 * and synced. Returns 0, PARLEY_ECANCELED (*stop was set), PARLEY_EIO (the
 * network or the disk: try again), or a code saying the file cannot be had
 * (PARLEY_ENOTFOUND: expired, recalled or never uploaded; PARLEY_EAUTH,
 * PARLEY_EPROTO: tampered; PARLEY_EINVAL: no file key in the message). */
int compliance_attachment_save(struct parley_client *c, const char *msg_id, const char *dir,
                               const char *name, volatile sig_atomic_t *stop, char **path);

#endif
