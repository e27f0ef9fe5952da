/* The subcommands of the seerlog binary, one file each; seerlog.c lists them. */
#ifndef SL_CMDS_H
#define SL_CMDS_H

#include "cli.h"

extern const sl_cmd_t sl_cmd_help;
extern const sl_cmd_t sl_cmd_config;
extern const sl_cmd_t sl_cmd_schema;
extern const sl_cmd_t sl_cmd_publish;
extern const sl_cmd_t sl_cmd_tail;
extern const sl_cmd_t sl_cmd_history;
extern const sl_cmd_t sl_cmd_registry;
extern const sl_cmd_t sl_cmd_agent;
extern const sl_cmd_t sl_cmd_bridge;
extern const sl_cmd_t sl_cmd_simulate;
extern const sl_cmd_t sl_cmd_bench;
extern const sl_cmd_t sl_cmd_control;
extern const sl_cmd_t sl_cmd_snapshot;
extern const sl_cmd_t sl_cmd_project;
extern const sl_cmd_t sl_cmd_state;
extern const sl_cmd_t sl_cmd_watch;
extern const sl_cmd_t sl_cmd_top;
extern const sl_cmd_t sl_cmd_replay;
extern const sl_cmd_t sl_cmd_verify;
extern const sl_cmd_t sl_cmd_export;

#endif
