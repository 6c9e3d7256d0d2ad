/* s3cow command: options, environment, dispatch, --help and --version.
 *
 *   s3cow [OPTION]... COMMAND [OPERAND]... [OPTION]...
 *
 * Options may come before or after the command (getopt permutes them).
 * Every option is parsed here; the command table says which of the
 * command-specific ones a command takes, so that a misplaced one is an
 * error instead of being ignored.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "log.h"
#include "volume_copy.h"

extern const char *s3cow_log_program; /* log_stderr.c */

/* Command-specific options (bits of struct command.opts). */
enum {
  OPT_JSON = 1 << 0,
  OPT_FORCE = 1 << 1,
  OPT_DRY_RUN = 1 << 2,
  OPT_GRACE = 1 << 3,
  OPT_CHUNK_SIZE = 1 << 4,
  OPT_VERBOSE = 1 << 5,
  OPT_SHRINK = 1 << 6,
  OPT_TO = 1 << 7, /* --to-endpoint, --to-region, --to-profile */
  OPT_JOBS = 1 << 8,
  OPT_HISTORY = 1 << 9,
  OPT_ENCRYPTION_KEY = 1 << 10,
  OPT_SNAPSHOTS = 1 << 11,
};
#define OPT_LAST OPT_SNAPSHOTS

struct command {
  const char *name;
  int (*fn) (struct cli *, int, char **);
  int min_operands, max_operands;
  unsigned opts;
  bool hidden;
  const char *synopsis; /* after "s3cow NAME " */
  const char *help;     /* what it does, and its own options */
};

static const struct command commands[] = {
  { "create", cmd_create, 2, 2,
    OPT_CHUNK_SIZE | OPT_HISTORY | OPT_ENCRYPTION_KEY | OPT_JSON, false,
    "DISK SIZE [--chunk-size SIZE] [--history DURATION]\n"
    "        [--encryption-key-file FILE] [--json]",
    "Create an empty disk of SIZE bytes (a multiple of 512; K, M, G, T, P\n"
    "suffixes).  --chunk-size: a power of two from 64K to 64M (default 1M).\n"
    "--history: how long each commit stays readable as DISK@TIME (default\n"
    "24h; e.g. 30m, 7d; 0: off).  --encryption-key-file: encrypt the disk\n"
    "under the key in FILE (64 hex characters; - for stdin).  Fails if the\n"
    "disk exists.\n" },
  { "fork", cmd_fork, 2, 2, OPT_HISTORY | OPT_ENCRYPTION_KEY | OPT_JSON, false,
    "SOURCE[@SNAPSHOT|@TIME] NEWDISK [--history DURATION]\n"
    "        [--encryption-key-file FILE] [--json]",
    "Create NEWDISK as a copy-on-write fork of SOURCE's last committed state\n"
    "(or of one of its snapshots, or of its state at TIME, ISO 8601 UTC:\n"
    "YYYY-MM-DDTHH:MM:SSZ).  Costs a constant number of requests whatever\n"
    "the size of the disk: the new disk's head names the source's immutable\n"
    "maps.  Writes to either disk are invisible to the other.  NEWDISK keeps\n"
    "SOURCE's history window unless --history is given.  The fork of an\n"
    "encrypted disk is encrypted under the same key, which it needs.\n" },
  { "snapshot", cmd_snapshot, 2, 2, OPT_ENCRYPTION_KEY | OPT_JSON, false,
    "DISK[@TIME] SNAPSHOT [--encryption-key-file FILE] [--json]",
    "Record DISK's last committed state (or its state at TIME) as the\n"
    "immutable, read-only snapshot DISK@SNAPSHOT (serve it with nbdkit\n"
    "s3cow export=DISK@SNAPSHOT).  A snapshot of an encrypted disk needs its\n"
    "key.\n" },
  { "log", cmd_log, 1, 1, OPT_JSON, false, "DISK [--json]",
    "List the commits of DISK that its history window keeps: commit time,\n"
    "generation and chunks changed (from the sizes of the maps; no chunk is\n"
    "read, and no key is needed).  Each can be served as DISK@TIME.\n" },
  { "history", cmd_history, 1, 2, OPT_ENCRYPTION_KEY | OPT_JSON, false,
    "DISK [DURATION] [--encryption-key-file FILE] [--json]",
    "Show DISK's history window, or set it to DURATION (e.g. 30m, 24h, 7d;\n"
    "0: off).  Setting it takes the disk's lease for a moment: refused while\n"
    "a server writes the disk.  A shorter window frees the older commits at\n"
    "the next gc.  Setting the window of an encrypted disk needs its key.\n" },
  { "resize", cmd_resize, 2, 2, OPT_SHRINK | OPT_ENCRYPTION_KEY | OPT_JSON,
    false, "DISK SIZE [--shrink] [--encryption-key-file FILE] [--json]",
    "Change the size of DISK to SIZE bytes (a multiple of 512; K, M, G, T, P\n"
    "suffixes).  A smaller size is refused unless --shrink is given: the data\n"
    "past the new end is dropped (shrink the filesystem and partitions\n"
    "first).  Refused while a server holds the disk's lease: stop it, resize,\n"
    "start it again; clients must reconnect to see the new size.  Then grow\n"
    "the partition (growpart) and filesystem (resize2fs) inside.  Snapshots\n"
    "cannot be resized: fork them.  An encrypted disk needs its key.\n" },
  { "diff", cmd_diff, 2, 2, OPT_JSON, false,
    "OLD[@SNAPSHOT] NEW[@SNAPSHOT] [--json]",
    "Print the byte ranges where NEW differs from OLD (disks or snapshots\n"
    "with the same chunk size), one OFFSET LENGTH line each, after a line\n"
    "size OLDSIZE NEWSIZE when the sizes differ.  Computed from the chunk\n"
    "maps alone (no data is read, no key needed), so at chunk granularity.\n"
    "OLD resized to NEW's size, then these ranges copied from NEW, is NEW.\n"
    "Prints nothing when they are the same.  Chunks of disks under\n"
    "different keys (or of an encrypted disk and one that is not) always\n"
    "differ.\n" },
  { "ls", cmd_ls, 0, 1, OPT_JSON, false, "[DISK] [--json]",
    "List the disks with size, chunk size, bytes used and stored, last\n"
    "commit time, whether a server holds the disk's lease (LOCK) and parent;\n"
    "with DISK, list its snapshots.\n" },
  { "info", cmd_info, 1, 1, OPT_JSON, false, "DISK[@SNAPSHOT] [--json]",
    "Show a disk's size, chunk size, parent chain, maps, snapshots, chunks\n"
    "referenced, bytes unique (freed if the disk were removed and gc ran)\n"
    "and shared with other disks and snapshots, logical and as stored\n"
    "(compressed), and its lease.\n" },
  { "rm", cmd_rm, 1, 1, OPT_FORCE | OPT_SNAPSHOTS | OPT_JSON, false,
    "DISK[@SNAPSHOT] [--snapshots] [--force] [--json]",
    "Remove a disk (its head, and its lease) or one snapshot.  A disk with\n"
    "snapshots is refused unless --snapshots is given (which removes them\n"
    "too); a disk whose lease a server holds (or that cannot be read) is\n"
    "refused unless --force is given.  Data is freed by gc later, and only\n"
    "what no other disk or snapshot uses.\n" },
  { "gc", cmd_gc, 0, 0,
    OPT_GRACE | OPT_DRY_RUN | OPT_VERBOSE | OPT_FORCE | OPT_JSON, false,
    "[--grace DURATION] [--dry-run] [--verbose] [--force] [--json]",
    "Delete the kept heads that left their disk's history window, then the\n"
    "chunks and maps that no disk, snapshot or kept head references and that\n"
    "are older than the grace period (default 1h; e.g. 30s, 10m, 2h, 1d).\n"
    "The grace period must be at least every server's gc-grace=: servers\n"
    "record the longest in the bucket (gc/grace; 1h when none did), and gc\n"
    "refuses a shorter one unless --force is given (safe only when no server\n"
    "writes to the bucket; or lower the record with s3cow grace).  --dry-run\n"
    "lists what would be deleted; --verbose names what is deleted.\n" },
  { "grace", cmd_grace, 0, 1, OPT_FORCE | OPT_JSON, false,
    "[DURATION] [--force] [--json]",
    "Show the gc grace that the servers of the bucket rely on (gc/grace,\n"
    "the longest gc-grace= any server recorded; 1h when none did), or set\n"
    "it to DURATION (e.g. 10m, 2h).  Lowering it needs --force: do so only\n"
    "once no server with a longer gc-grace= writes to the bucket any more\n"
    "(a server that opens a disk afterwards raises it again).\n" },
  { "fsck", cmd_fsck, 0, 1, OPT_ENCRYPTION_KEY | OPT_JSON, false,
    "[DISK[@SNAPSHOT|@TIME]] [--encryption-key-file FILE] [--json]",
    "Check that every map referenced by the disk (and its snapshots), or by\n"
    "every disk and snapshot, exists and decodes, and that every chunk they\n"
    "reference exists and matches its hash (all are downloaded).  Exits 1\n"
    "and names each problem otherwise.  Encrypted disks: with the key of\n"
    "--encryption-key-file, their heads and maps are authenticated and\n"
    "their chunks opened; without it (or for disks under other keys),\n"
    "their chunks are only checked to exist and to be sealed.\n" },
  { "copy", cmd_copy, 2, 2, OPT_TO | OPT_JOBS | OPT_ENCRYPTION_KEY | OPT_JSON,
    false,
    "SOURCE[@SNAPSHOT] s3://BUCKET[/PREFIX]/DISK [--to-endpoint URL]\n"
    "        [--to-region REGION] [--to-profile PROFILE] [--jobs N]\n"
    "        [--encryption-key-file FILE] [--json]",
    "Copy SOURCE's last committed state (or its snapshot) into disk DISK of\n"
    "another bucket, endpoint or cloud, sending only the chunks the\n"
    "destination lacks, each checked against its address on the way.  The\n"
    "destination's head is written last: an interrupted copy leaves no disk,\n"
    "and running it again sends only what is missing.  SOURCE@SNAPSHOT\n"
    "becomes snapshot DISK@SNAPSHOT of the destination: copy the snapshots,\n"
    "then the disk, to keep them.  Copying SOURCE again updates DISK, unless\n"
    "DISK was written since (refused).  The destination may also be\n"
    "file:///DIR/BUCKET/DISK (the directory store).  An encrypted SOURCE\n"
    "needs its key: the copy is encrypted under the same key.\n"
    "  --to-endpoint URL     the destination's endpoint (default: the\n"
    "                        source's; aws: AWS)\n"
    "  --to-region REGION    its region (default: the source's, or the\n"
    "                        profile's)\n"
    "  --to-profile PROFILE  its credentials and region from this profile of\n"
    "                        ~/.aws (default: the source's credentials)\n"
    "  --jobs N              chunks copied at once (default 8, at most 64)\n" },
  { "unlock", cmd_unlock, 1, 1, OPT_FORCE | OPT_JSON, false,
    "DISK --force [--json]",
    "Break a disk's lease lock by hand (delete it), after making sure that\n"
    "no server is writing the disk any more.  Refused without --force.\n" },
  { "debug-fill", cmd_debug_fill, 2, 2, 0, true, "DISK N",
    "For benchmarks only: commit a full map of N fake chunk entries (chunks\n"
    "0 to N-1, with no chunk objects) to DISK.  DISK's data becomes\n"
    "unreadable.\n" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char common_help[]
    = "Connection options (any command):\n"
      "  --endpoint URL          S3 endpoint, or file:///DIR (env "
      "S3COW_ENDPOINT,\n"
      "                          then AWS_ENDPOINT_URL; default: AWS)\n"
      "  --bucket BUCKET         the bucket (env S3COW_BUCKET; required)\n"
      "  --prefix PREFIX         key prefix inside the bucket (env "
      "S3COW_PREFIX)\n"
      "  --region REGION         region (default AWS_REGION, us-east-1)\n"
      "  --access-key KEY        access key (with --secret-key-file; default:\n"
      "                          AWS_ACCESS_KEY_ID, ~/.aws/credentials)\n"
      "  --secret-key-file FILE  read the secret key from FILE (- for stdin)\n"
      "  --ca-file FILE          CA certificates for HTTPS\n"
      "  --sse AES256|aws:kms    server-side encryption of the objects "
      "written\n"
      "  --sse-kms-key-id ID     the KMS key of --sse aws:kms\n"
      "  --storage-class CLASS   storage class of chunks and maps "
      "(STANDARD_IA, ...)\n"
      "  --no-verify-tls         do not verify the server's certificate\n"
      "  --timeout SECS          timeout of one request (default 30)\n"
      "  --retry-time SECS       time spent retrying one request (default 15)\n"
      "Other options:\n"
      "  --debug[=FLAGS]         debug messages: http,cache,commit,lease "
      "(default:\n"
      "                          all)\n"
      "  -q, --quiet             no progress line on the terminal\n"
      "  -h, --help              this help, or a command's: s3cow COMMAND "
      "--help\n"
      "  -V, --version           the version\n";

static void
usage (FILE *fp)
{
  size_t i;

  fprintf (fp, "Usage: s3cow [OPTION]... COMMAND [OPERAND]...\n"
               "Copy-on-write disks in S3-compatible object storage.\n\n"
               "Commands:\n");
  for (i = 0; i < NCOMMANDS; i++)
    if (!commands[i].hidden)
      fprintf (fp, "  s3cow %s %s\n", commands[i].name, commands[i].synopsis);
  fprintf (fp, "\n%s\nSee s3cow(1); s3cow COMMAND --help for one command.\n",
           common_help);
}

static void
command_usage (const struct command *c)
{
  printf ("Usage: s3cow %s %s\n\n%s\n%s", c->name, c->synopsis, c->help,
          common_help);
}

static const struct command *
find_command (const char *name)
{
  size_t i;

  for (i = 0; i < NCOMMANDS; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int
set_debug (const char *flags)
{
  char buf[256], *tok, *save = NULL;

  if (flags == NULL || strcmp (flags, "all") == 0) {
    s3cow_debug_http = s3cow_debug_cache = 1;
    s3cow_debug_commit = s3cow_debug_lease = 1;
    return 0;
  }
  snprintf (buf, sizeof buf, "%s", flags);
  for (tok = strtok_r (buf, ",", &save); tok;
       tok = strtok_r (NULL, ",", &save)) {
    if (strcmp (tok, "http") == 0)
      s3cow_debug_http = 1;
    else if (strcmp (tok, "cache") == 0)
      s3cow_debug_cache = 1;
    else if (strcmp (tok, "commit") == 0)
      s3cow_debug_commit = 1;
    else if (strcmp (tok, "lease") == 0)
      s3cow_debug_lease = 1;
    else if (strcmp (tok, "all") == 0)
      return set_debug (NULL);
    else {
      s3cow_log_error ("--debug=%s: unknown flag '%s' (use http, cache, "
                       "commit, lease or all)",
                       flags, tok);
      return -1;
    }
  }
  return 0;
}

static const char *
env_or (const char *value, const char *name)
{
  const char *v;

  if (value)
    return value;
  v = getenv (name);
  return v && v[0] ? v : NULL;
}

struct store *
cli_store (struct cli *cli)
{
  if (cli->store)
    return cli->store;
  if (cli->config.bucket == NULL) {
    s3cow_log_error ("no bucket: give --bucket BUCKET or set S3COW_BUCKET");
    return NULL;
  }
  if (store_config_resolve (&cli->config, &cli->owned) == -1)
    return NULL;
  cli->store = store_open (&cli->config);
  if (cli->store && store_check (cli->store) != STORE_OK) {
    store_close (cli->store);
    cli->store = NULL;
  }
  return cli->store;
}

enum {
  LONG_ENDPOINT = 256,
  LONG_BUCKET,
  LONG_PREFIX,
  LONG_REGION,
  LONG_ACCESS_KEY,
  LONG_SECRET_KEY_FILE,
  LONG_CA_FILE,
  LONG_NO_VERIFY_TLS,
  LONG_TIMEOUT,
  LONG_RETRY_TIME,
  LONG_JSON,
  LONG_DEBUG,
  LONG_GRACE,
  LONG_CHUNK_SIZE,
  LONG_SECRET_KEY,
  LONG_SHRINK,
  LONG_TO_ENDPOINT,
  LONG_TO_REGION,
  LONG_TO_PROFILE,
  LONG_JOBS,
  LONG_HISTORY,
  LONG_SNAPSHOTS,
  LONG_SSE,
  LONG_SSE_KMS_KEY_ID,
  LONG_STORAGE_CLASS,
  LONG_ENCRYPTION_KEY_FILE,
};

static const struct option long_options[] = {
  { "endpoint", required_argument, NULL, LONG_ENDPOINT },
  { "bucket", required_argument, NULL, LONG_BUCKET },
  { "prefix", required_argument, NULL, LONG_PREFIX },
  { "region", required_argument, NULL, LONG_REGION },
  { "access-key", required_argument, NULL, LONG_ACCESS_KEY },
  { "secret-key-file", required_argument, NULL, LONG_SECRET_KEY_FILE },
  /* Refused: spelled out so that it is not taken as an abbreviation of
   * --secret-key-file (and the secret never echoed as a file name). */
  { "secret-key", required_argument, NULL, LONG_SECRET_KEY },
  { "ca-file", required_argument, NULL, LONG_CA_FILE },
  { "sse", required_argument, NULL, LONG_SSE },
  { "sse-kms-key-id", required_argument, NULL, LONG_SSE_KMS_KEY_ID },
  { "storage-class", required_argument, NULL, LONG_STORAGE_CLASS },
  { "no-verify-tls", no_argument, NULL, LONG_NO_VERIFY_TLS },
  { "timeout", required_argument, NULL, LONG_TIMEOUT },
  { "retry-time", required_argument, NULL, LONG_RETRY_TIME },
  { "json", no_argument, NULL, LONG_JSON },
  { "debug", optional_argument, NULL, LONG_DEBUG },
  { "grace", required_argument, NULL, LONG_GRACE },
  { "chunk-size", required_argument, NULL, LONG_CHUNK_SIZE },
  { "shrink", no_argument, NULL, LONG_SHRINK },
  { "to-endpoint", required_argument, NULL, LONG_TO_ENDPOINT },
  { "to-region", required_argument, NULL, LONG_TO_REGION },
  { "to-profile", required_argument, NULL, LONG_TO_PROFILE },
  { "jobs", required_argument, NULL, LONG_JOBS },
  { "history", required_argument, NULL, LONG_HISTORY },
  { "encryption-key-file", required_argument, NULL, LONG_ENCRYPTION_KEY_FILE },
  { "snapshots", no_argument, NULL, LONG_SNAPSHOTS },
  { "dry-run", no_argument, NULL, 'n' },
  { "force", no_argument, NULL, 'f' },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

/* The name of a command-specific option bit, for messages. */
static const char *
opt_name (unsigned bit)
{
  switch (bit) {
  case OPT_JSON:
    return "--json";
  case OPT_FORCE:
    return "--force";
  case OPT_DRY_RUN:
    return "--dry-run";
  case OPT_GRACE:
    return "--grace";
  case OPT_CHUNK_SIZE:
    return "--chunk-size";
  case OPT_VERBOSE:
    return "--verbose";
  case OPT_SHRINK:
    return "--shrink";
  case OPT_TO:
    return "--to-endpoint, --to-region or --to-profile";
  case OPT_JOBS:
    return "--jobs";
  case OPT_HISTORY:
    return "--history";
  case OPT_ENCRYPTION_KEY:
    return "--encryption-key-file";
  case OPT_SNAPSHOTS:
    return "--snapshots";
  default:
    return "?";
  }
}

static void
cli_free (struct cli *cli)
{
  store_close (cli->store);
  store_config_free_owned (&cli->owned);
  if (cli->secret_key) {
    explicit_bzero (cli->secret_key, strlen (cli->secret_key));
    free (cli->secret_key);
  }
  crypto_free (cli->crypto);
}

int
main (int argc, char **argv)
{
  struct cli cli = {
    .config = { .tls_verify = true, .retry_time = DEFAULT_RETRY_TIME },
    .grace = DEFAULT_GRACE,
    .chunk_size = DEFAULT_CHUNK_SIZE,
    .jobs = DEFAULT_JOBS,
  };
  const struct command *cmd;
  const char *secret_file = NULL, *encryption_key_file = NULL;
  unsigned given = 0, bit;
  bool help = false, quiet = false;
  uint64_t size;
  int c, status;

  s3cow_log_program = "s3cow";
  while ((c = getopt_long (argc, argv, "nfvqhV", long_options, NULL)) != -1) {
    switch (c) {
    case LONG_ENDPOINT:
      cli.config.endpoint = optarg;
      break;
    case LONG_BUCKET:
      cli.config.bucket = optarg;
      break;
    case LONG_PREFIX:
      cli.config.prefix = optarg;
      break;
    case LONG_REGION:
      cli.config.region = optarg;
      break;
    case LONG_ACCESS_KEY:
      cli.config.access_key = optarg;
      break;
    case LONG_SECRET_KEY_FILE:
      secret_file = optarg;
      break;
    case LONG_SECRET_KEY:
      s3cow_log_error ("--secret-key: a secret is never given on the command "
                       "line (others can read it): use --secret-key-file "
                       "FILE, AWS_SECRET_ACCESS_KEY or ~/.aws/credentials");
      return EXIT_USAGE;
    case LONG_CA_FILE:
      cli.config.ca_file = optarg;
      break;
    case LONG_SSE:
      cli.config.sse = optarg;
      break;
    case LONG_SSE_KMS_KEY_ID:
      cli.config.sse_kms_key_id = optarg;
      break;
    case LONG_STORAGE_CLASS:
      cli.config.storage_class = optarg;
      break;
    case LONG_NO_VERIFY_TLS:
      cli.config.tls_verify = false;
      break;
    case LONG_TIMEOUT:
      if (parse_seconds ("--timeout", optarg, &cli.config.timeout) == -1)
        return EXIT_USAGE;
      break;
    case LONG_RETRY_TIME:
      if (parse_seconds ("--retry-time", optarg, &cli.config.retry_time) == -1)
        return EXIT_USAGE;
      break;
    case LONG_JSON:
      cli.json = true;
      given |= OPT_JSON;
      break;
    case LONG_DEBUG:
      if (set_debug (optarg) == -1)
        return EXIT_USAGE;
      break;
    case LONG_GRACE:
      if (parse_duration ("--grace", optarg, &cli.grace) == -1)
        return EXIT_USAGE;
      given |= OPT_GRACE;
      break;
    case LONG_CHUNK_SIZE:
      if (parse_size ("--chunk-size", optarg, &size) == -1)
        return EXIT_USAGE;
      if (size < (uint64_t)CHUNK_SIZE_MIN || size > (uint64_t)CHUNK_SIZE_MAX
          || (size & (size - 1)) != 0) {
        s3cow_log_error ("--chunk-size %s: must be a power of two from 64K "
                         "to 64M",
                         optarg);
        return EXIT_USAGE;
      }
      cli.chunk_size = size;
      given |= OPT_CHUNK_SIZE;
      break;
    case LONG_SHRINK:
      cli.shrink = true;
      given |= OPT_SHRINK;
      break;
    case LONG_SNAPSHOTS:
      cli.snapshots = true;
      given |= OPT_SNAPSHOTS;
      break;
    case LONG_TO_ENDPOINT:
      cli.to_endpoint = optarg;
      given |= OPT_TO;
      break;
    case LONG_TO_REGION:
      cli.to_region = optarg;
      given |= OPT_TO;
      break;
    case LONG_TO_PROFILE:
      cli.to_profile = optarg;
      given |= OPT_TO;
      break;
    case LONG_JOBS: {
      char *end;
      unsigned long n;

      errno = 0;
      n = strtoul (optarg, &end, 10);
      if (errno != 0 || end == optarg || *end || n < 1 || n > COPY_MAX_JOBS) {
        s3cow_log_error ("--jobs '%s': expected a number from 1 to %d", optarg,
                         COPY_MAX_JOBS);
        return EXIT_USAGE;
      }
      cli.jobs = n;
      given |= OPT_JOBS;
      break;
    }
    case LONG_HISTORY:
      if (parse_history (optarg, &cli.history) == -1)
        return EXIT_USAGE;
      cli.set_history = true;
      given |= OPT_HISTORY;
      break;
    case LONG_ENCRYPTION_KEY_FILE:
      encryption_key_file = optarg;
      given |= OPT_ENCRYPTION_KEY;
      break;
    case 'n':
      cli.dry_run = true;
      given |= OPT_DRY_RUN;
      break;
    case 'f':
      cli.force = true;
      given |= OPT_FORCE;
      break;
    case 'v':
      cli.verbose = true;
      given |= OPT_VERBOSE;
      break;
    case 'q':
      quiet = true;
      break;
    case 'h':
      help = true;
      break;
    case 'V':
      printf ("s3cow %s\n", PACKAGE_VERSION);
      return EXIT_OK;
    default:
      fprintf (stderr, "Try 's3cow --help'.\n");
      return EXIT_USAGE;
    }
  }

  /* s3cow help [COMMAND] is s3cow [COMMAND] --help. */
  if (optind < argc && strcmp (argv[optind], "help") == 0) {
    help = true;
    optind++;
  }
  if (optind >= argc) {
    usage (help ? stdout : stderr);
    return help ? EXIT_OK : EXIT_USAGE;
  }
  cmd = find_command (argv[optind]);
  if (cmd == NULL) {
    s3cow_log_error ("unknown command '%s' (s3cow --help lists them)",
                     argv[optind]);
    return EXIT_USAGE;
  }
  if (help) {
    command_usage (cmd);
    return EXIT_OK;
  }
  for (bit = 1; bit <= OPT_LAST; bit <<= 1)
    if ((given & bit) && !(cmd->opts & bit)) {
      s3cow_log_error ("s3cow %s does not take %s", cmd->name, opt_name (bit));
      return EXIT_USAGE;
    }
  if (argc - optind - 1 < cmd->min_operands
      || argc - optind - 1 > cmd->max_operands) {
    s3cow_log_error ("wrong number of operands: s3cow %s %s", cmd->name,
                     cmd->synopsis);
    return EXIT_USAGE;
  }

  /* Connection settings: options, then the environment; the rest (region,
   * credentials, AWS_ENDPOINT_URL) as the plugin resolves them.
   */
  cli.config.endpoint = env_or (cli.config.endpoint, "S3COW_ENDPOINT");
  cli.config.bucket = env_or (cli.config.bucket, "S3COW_BUCKET");
  cli.config.prefix = env_or (cli.config.prefix, "S3COW_PREFIX");
  if (secret_file && cli.config.access_key == NULL) {
    s3cow_log_error ("--secret-key-file needs --access-key");
    return EXIT_USAGE;
  }
  if (cli.config.access_key && secret_file == NULL) {
    s3cow_log_error ("--access-key needs --secret-key-file (a secret is "
                     "never given on the command line)");
    return EXIT_USAGE;
  }
  if (secret_file) {
    if (read_secret_file ("secret key", secret_file, &cli.secret_key) == -1)
      return EXIT_USAGE;
    cli.config.secret_key = cli.secret_key;
  }
  if (encryption_key_file
      && read_encryption_key_file (encryption_key_file, &cli.crypto) == -1) {
    cli_free (&cli);
    return EXIT_USAGE;
  }
  cli.progress = !quiet && isatty (STDERR_FILENO);

  status = cmd->fn (&cli, argc - optind, argv + optind);
  if (fflush (stdout) == EOF || ferror (stdout)) {
    s3cow_log_error ("writing the output: %m");
    status = EXIT_FAIL;
  }
  cli_free (&cli);
  return status;
}
