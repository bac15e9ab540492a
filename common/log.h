/* Logging for the two programs (agent and CLI). Library code never logs: it
 * returns an error and a detail (err.h); the boundary logs once. */
#ifndef TPMID_LOG_H
#define TPMID_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* `to_syslog` = 0: stderr with "prog: " prefix; 1: syslog(LOG_DAEMON). */
void log_init(const char *prog, int to_syslog, enum log_level level);
int log_parse_level(const char *s, enum log_level *ret);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
