/* bots.h - the bots parley-bot hosts, one directory each:
 *
 *   <home>/clients/<name>/bot.json          the record (below), mode 0600
 *   <home>/clients/<name>/account/          libparley's encrypted local state
 *   <home>/clients/<name>/integration/<integration>/   the integration's files
 *   <home>/clients/<name>/run.lock          held by the running bot (flock)
 *   <home>/clients/<name>/autologin         the password, mode 0600, if chosen
 *   <home>/clients/<name>/bot.log           the output of a started bot
 *
 * The record: {"name", "username", "integration", "version", "autologin",
 * "paused", "config": {answers}}. */
#ifndef PARLEY_BOT_BOTS_H
#define PARLEY_BOT_BOTS_H

#include "common/compat.h"

#include <sys/types.h>

#include <jansson.h>

struct bot {
    char name[128];
    char dir[4096];
    json_t *rec;
};

/* Every bot under home, sorted by name. free with bots_free. */
int bots_list(const char *home, struct bot **out, size_t *n);
void bots_free(struct bot *b, size_t n);
/* A bot by name or by its number in the list. PARLEY_ENOTFOUND. */
int bot_find(const char *home, const char *which, struct bot *out);
void bot_release(struct bot *b);
/* Write the record atomically (temporary file, fsync, rename). */
int bot_save(const struct bot *b);
/* A path inside the bot's directory (malloc'd). */
char *bot_path(const struct bot *b, const char *name);
/* The integration directory (malloc'd). */
char *bot_integration_dir(const struct bot *b);
/* The pid of the running bot, 0 if it is not running, -1 if it runs but
 * its pid cannot be read. */
pid_t bot_running(const struct bot *b);
const char *bot_str(const struct bot *b, const char *key);
bool bot_bool(const struct bot *b, const char *key);

#endif
