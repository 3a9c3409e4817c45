/* api_files.h - encrypted files for clients (docs/client-protocol.md,
 * "Files"): create an upload, send it in resumable parts, read its state,
 * download it with ranges, delete it; and the sweep that removes blobs
 * nothing refers to any more.
 *
 * The server stores ciphertext it cannot open (src/proto/filecrypt.h) in
 * data_dir/files/<file_id>, one blob per file. Limits of the uploader's
 * security group (file_attachments, max_upload_bytes) are checked when the
 * upload is created, before any byte is sent, and again on each part. The
 * upload's progress is the blob's length on disk, so an upload resumes
 * where it stopped after a lost connection, a client restart or a server
 * restart alike. Everything here runs on the loop thread, except the
 * sweep's job, which runs on the store's committer. */
#ifndef PARLEY_SERVER_API_FILES_H
#define PARLEY_SERVER_API_FILES_H

#include "http.h"

/* Uploads that never finish are swept after this long. */
#define FILES_ABANDONED_S (7 * 86400)

void api_files_create(struct http_req *req);
void api_files_get(struct http_req *req);
void api_files_put(struct http_req *req); /* HTTP_ROUTE_STREAM */
void api_files_data(struct http_req *req);
void api_files_delete(struct http_req *req);
/* The Files view of rooms and groups (network option file_management):
 * save a file there, so it no longer expires with its message, or take it
 * out. Room moderators only; any member of a group. Names and folders are
 * not here: they travel encrypted in room control messages (4004,
 * changemask 64). */
void api_files_vault_save(struct http_req *req);
void api_files_vault_remove(struct http_req *req);

/* Queue one pass of the sweep (expired files, files of deleted
 * conversations, removed and abandoned ones): unlink each blob, then drop
 * its row, so a crash in between leaves a row the next pass finishes. At
 * most one pass runs at a time. Loop thread. */
void files_sweep(struct server *srv);

#endif
