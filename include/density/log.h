/* log: messages to journald (through libsystemd) when started by systemd,
 * else to stderr. Library code returns errors; callers log once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Pick the sink: journald when JOURNAL_STREAM says our stderr is the
 * journal, stderr otherwise. verbose enables LOG_DEBUG. */
void log_setup(const char *ident, bool verbose);

__attribute__((format(printf, 2, 3))) void log_msg(int priority, const char *fmt, ...);

/* A structured record: to journald with MESSAGE_ID= and the extra fields
 * ("KEY=value", journald field names), to stderr as the message alone. */
void log_struct(int priority, const char *message_id, const char *message, const char *const *fields,
                size_t n_fields);

#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_ERR, __VA_ARGS__)
