/* s3cow command: what the subcommands share.
 *
 * main.c parses the options into a struct cli and calls one cmd_* function
 * with the operands that follow the subcommand name.  Each cmd_* returns
 * the process exit status (EXIT_OK, EXIT_FAIL, EXIT_USAGE) after printing
 * what went wrong; none of them calls exit.
 *
 * Files:
 *   main.c        options, environment, dispatch, --help, --version
 *   parse.c       sizes, durations, names, secrets
 *   output.c      human sizes and times, JSON strings, terminal progress
 *   roots.c       listing the disks and snapshots
 *   stored.c      the size of each chunk object, for stored bytes
 *   cmd_disk.c    create, fork, snapshot, rm, unlock, resize
 *   cmd_diff.c    diff
 *   cmd_ls.c      ls
 *   cmd_info.c    info
 *   cmd_gc.c      gc, grace
 *   cmd_fsck.c    fsck
 *   cmd_copy.c    copy
 *   cmd_history.c log, history
 *   cmd_debug.c   debug-fill (hidden: for scripts/bench-fork.sh)
 * The bucket is read through plugin/catalog.h and changed only through
 * plugin/volume.h: no file here writes or deletes an object itself.
 */
#ifndef S3COW_CLI_H
#define S3COW_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "crypto.h"
#include "names.h"
#include "store.h"

#define EXIT_OK 0
#define EXIT_FAIL 1  /* the command failed, or fsck found problems */
#define EXIT_USAGE 2 /* bad options or operands: nothing was done */

#define DEFAULT_CHUNK_SIZE (1024 * 1024) /* as the plugin's */
#define DEFAULT_GRACE (60 * 60)          /* seconds */
#define DEFAULT_RETRY_TIME 15            /* seconds: people wait */
#define DEFAULT_JOBS 8                   /* copy: chunks at once */

struct cli {
  /* Connection: filled by main.c, resolved by cli_store. */
  struct store_config config;
  struct store_config_owned owned;
  char *secret_key;    /* read from --secret-key-file */
  struct store *store; /* NULL until cli_store */

  /* Options of the subcommands (main.c checks which apply where). */
  bool json;           /* every command but debug-fill */
  bool force;          /* rm, unlock, gc, grace */
  bool snapshots;      /* rm: a disk's snapshots too */
  bool dry_run;        /* gc */
  bool verbose;        /* gc: name every object deleted */
  bool progress;       /* gc, fsck: stderr is a terminal */
  double grace;        /* gc: seconds */
  uint32_t chunk_size; /* create */
  bool shrink;         /* resize */
  /* copy: the destination's connection (NULL: see cmd_copy.c), and the
   * number of chunks copied at once.
   */
  const char *to_endpoint, *to_region, *to_profile;
  unsigned jobs;
  bool set_history;      /* create, fork: --history given */
  uint64_t history;      /* its seconds */
  struct crypto *crypto; /* --encryption-key-file: create, fork, snapshot,
                          * fsck, resize, copy (NULL: none) */
};

/* The store of the connection options, opened on first use (store_open
 * does not contact the server).  NULL after printing why.
 */
struct store *cli_store (struct cli *cli);

/* Subcommands: argv[0] is the subcommand name, argv[1..] its operands. */
int cmd_create (struct cli *cli, int argc, char **argv);
int cmd_fork (struct cli *cli, int argc, char **argv);
int cmd_snapshot (struct cli *cli, int argc, char **argv);
int cmd_rm (struct cli *cli, int argc, char **argv);
int cmd_unlock (struct cli *cli, int argc, char **argv);
int cmd_resize (struct cli *cli, int argc, char **argv);
int cmd_diff (struct cli *cli, int argc, char **argv);
int cmd_ls (struct cli *cli, int argc, char **argv);
int cmd_info (struct cli *cli, int argc, char **argv);
int cmd_gc (struct cli *cli, int argc, char **argv);
int cmd_grace (struct cli *cli, int argc, char **argv);
int cmd_fsck (struct cli *cli, int argc, char **argv);
int cmd_copy (struct cli *cli, int argc, char **argv);
int cmd_log (struct cli *cli, int argc, char **argv);
int cmd_history (struct cli *cli, int argc, char **argv);
int cmd_debug_fill (struct cli *cli, int argc, char **argv);

/* ---- roots.c ---- */

/* A disk head (snap "") or a snapshot. */
struct root {
  char disk[NAME_MAX_LEN + 1];
  char snap[NAME_MAX_LEN + 1];
  char label[2 * NAME_MAX_LEN + 2]; /* DISK or DISK@SNAP */
  time_t mtime;                     /* of the object, when listed */
};

struct roots {
  struct root *v;
  size_t n, cap;
};

/* The keys under disks/ (of disk only, if not NULL) of the kinds in kinds
 * (CATALOG_MASK (CATALOG_HEAD) | CATALOG_MASK (CATALOG_SNAP), or one of
 * them), in byte order of their keys, into *out (free with roots_free).
 * Returns STORE_OK, or a store status after printing.
 */
int roots_list (struct store *store, const char *disk, unsigned kinds,
                struct roots *out);
void roots_free (struct roots *roots);

/* ---- stored.c ---- */

/* The size of every chunk object in the bucket, sorted by hash. */
struct chunk_sizes {
  struct {
    uint8_t hash[HASH_LEN];
    uint64_t size;
  } * v;
  size_t n, cap;
};

/* List chunks/ into *out (free with chunk_sizes_free).  Returns STORE_OK,
 * or a store status after printing.
 */
int chunk_sizes_list (struct store *store, struct chunk_sizes *out);

/* The size of hash's object into *size; false if there is none. */
bool chunk_sizes_find (const struct chunk_sizes *cs,
                       const uint8_t hash[HASH_LEN], uint64_t *size);
void chunk_sizes_free (struct chunk_sizes *cs);

/* ---- parse.c ---- */

/* A size in bytes: digits with an optional K, M, G, T, P or E suffix
 * (powers of 1024, either case).  Returns 0, or -1 after printing what is
 * wrong with it (what names the thing, e.g. "size").
 */
int parse_size (const char *what, const char *s, uint64_t *out);

/* A duration: a non-negative number with an optional s, m, h or d suffix
 * (no suffix: seconds).  Returns 0, or -1 after printing.
 */
int parse_duration (const char *what, const char *s, double *out);

/* A history window: a duration (parse_duration) up to ten years, rounded
 * up to whole seconds; 0 turns history off.  0, or -1 after printing.
 */
int parse_history (const char *s, uint64_t *seconds);

/* A number of seconds (for --timeout, --retry-time).  0 or -1. */
int parse_seconds (const char *what, const char *s, double *out);

/* A disk's size: a positive multiple of 512 bytes, at most DISK_SIZE_MAX
 * (create, resize).  0, or -1 after printing.
 */
int parse_disk_size (const char *s, uint64_t *out);

/* "DISK" (snap_allowed false) or "DISK[@SNAP]" into disk and snap (each
 * NAME_MAX_LEN + 1; snap "" when absent).  Returns 0, or -1 after printing.
 */
int parse_disk_name (const char *s, bool snap_allowed, char *disk, char *snap);

/* A snapshot name alone (SNAP).  0, or -1 after printing. */
int parse_snap_name (const char *s);

/* The first line of file ("-": standard input), without the newline, into
 * a new string (*out).  For secrets: never echoed.  0, or -1 after printing.
 */
int read_secret_file (const char *what, const char *file, char **out);

/* The key domain of the encryption key in file (- for stdin): one line of
 * 64 hex characters.  0, or -1 after printing what is wrong (never the
 * key).
 */
int read_encryption_key_file (const char *file, struct crypto **out);

/* ---- output.c ---- */

/* "1.5G", "64K", "512": at most 15 characters, into buf (room for 16). */
const char *human_size (uint64_t bytes, char *buf);

/* "2024-05-01T12:34:56Z" (UTC) into buf (room for 21); "-" for 0. */
const char *iso_time (uint64_t t, char *buf);

/* A history window: "24h", "30m", "90s", "7d" (the largest unit that
 * divides it), or "off" for 0, into buf (room for 32).
 */
const char *human_window (uint64_t seconds, char *buf);

/* s as a JSON string, quotes included. */
void json_string (FILE *fp, const char *s);

/* A lease as catalog_lease_view gives it (text, held), as JSON: null when
 * text is NULL, else {"held", "text"} and, when the text decodes, its
 * fields (host, pid, instance, export, taken, renewed, expires,
 * duration_seconds).
 */
void json_lease (FILE *fp, const char *text, bool held);

/* The one JSON object a command prints with --json: fields given as
 * (type, key, value) triples ended by JSON_END, e.g.
 *   print_json_result (JSON_STR, "disk", disk, JSON_U64, "size", size,
 *                      JSON_BOOL, "created", true, JSON_END);
 * JSON_U64 takes a uint64_t (cast narrower ones), JSON_BOOL an int, and
 * JSON_STR a string, or NULL to leave the field out.  0, or -1 after
 * printing (out of memory).
 */
enum json_field { JSON_END, JSON_STR, JSON_U64, JSON_BOOL };
int print_json_result (enum json_field type, ...);

/* A progress line on stderr, rewritten in place at most 10 times a second,
 * only when cli->progress.  progress_done clears it.
 */
void progress (const struct cli *cli, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void progress_done (const struct cli *cli);

#endif /* S3COW_CLI_H */
