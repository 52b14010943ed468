/* cli/common.h — what run and verify share: finding the files, sharding, the worker pool
 * with one writer thread, the progress line, and the policy/key options. */
#ifndef DEIDTK_CLI_COMMON_H
#define DEIDTK_CLI_COMMON_H

#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include "deid/policy.h"
#include "verify/finding.h"
#include "verify/verify.h"

typedef struct cli_files {
    char **paths;   /* sorted; malloc'd, freed by cli_files_free */
    char **rel;     /* path relative to the input it was found under (for sharding) */
    size_t n, cap;
} cli_files;

/* Every regular file under the inputs (files or folders, recursively), hidden names
 * skipped, sorted so every run sees the same order. Links to files are followed, links to
 * folders only when named as an input. Returns 0, or -1 with err (also when no file is
 * found: a wrong path must not pass as an empty dataset). */
int cli_discover(char *const *inputs, int n, cli_files *out, char *err, size_t errlen);
void cli_files_free(cli_files *f);
/* Keeps the files of shard k of n (1 <= k <= n), chosen by a hash of their relative path,
 * so the same file always lands in the same shard; n = 1 keeps them all. */
void cli_files_shard(cli_files *f, int k, int n);
/* Parses "K/N"; -1 when malformed. */
int cli_shard_parse(const char *text, int *k, int *n);

/* A map from strings to the caller's pointers that only grows (the run's output paths,
 * the originals already exported). Keys are copied and freed by cli_strmap_free; values
 * are not. glibc's hsearch is no use here: its hash reads only a key's first characters,
 * and every output path starts alike. */
typedef struct cli_strmap cli_strmap;
cli_strmap *cli_strmap_new(void);
void cli_strmap_free(cli_strmap *m);
/* Adds key -> value when key is absent (1), or sets *old to key's value when present (0);
 * -1 when out of memory. */
int cli_strmap_add(cli_strmap *m, const char *key, void *value, void **old);

/* Runs work(i) for i < n on `jobs` threads; done(i) runs on the calling thread, one at a
 * time, as each item finishes (the single writer). */
typedef void (*cli_work_fn)(size_t i, void *ud);
int cli_pool_run(size_t n, int jobs, cli_work_fn work, cli_work_fn done, void *ud);
int cli_default_jobs(void);
/* The whole decimal number text, from min to max (within int), into *out: 0, or -1 for
 * anything else (trailing characters, overflow). */
int cli_parse_int(const char *text, long min, long max, int *out);

/* A progress line on stderr when it is a terminal; nothing otherwise. */
void cli_progress(const char *verb, size_t done, size_t total, size_t failed);
void cli_progress_end(void);

/* Is path inside dir (after resolving both)? */
int cli_path_inside(const char *path, const char *dir);
/* Removes the ".deidtk-*" temporary files dcm_save leaves when a run is killed. */
void cli_remove_temporaries(const char *out_dir);
/* mkdir -p; 0 or -1 with errno. */
int cli_mkdirs(const char *dir, int mode);

/* --preset/--option/--policy into a policy; 0, or -1 with err. */
int cli_policy_setup(deid_policy *p, const char *preset, deid_options opts,
                     const char *policy_file, char *err, size_t errlen);

/* The options run and verify share: their getopt codes (a command's own start at
 * CLI_O_OWN), their long options, and where their values go. */
enum {
    CLI_O_PRESET = 256, CLI_O_OPTION, CLI_O_POLICY, CLI_O_NOOCR, CLI_O_FRAMES, CLI_O_FAILON,
    CLI_O_REPORT, CLI_O_SHOW, CLI_O_SHARD, CLI_O_HELP, CLI_O_VERSION, CLI_O_OWN
};
#define CLI_SHARED_LONGOPTS                                                                 \
    {"preset", required_argument, NULL, CLI_O_PRESET},                                      \
    {"option", required_argument, NULL, CLI_O_OPTION},                                      \
    {"policy", required_argument, NULL, CLI_O_POLICY},                                      \
    {"no-ocr", no_argument, NULL, CLI_O_NOOCR},                                             \
    {"ocr-frames", required_argument, NULL, CLI_O_FRAMES},                                  \
    {"fail-on", required_argument, NULL, CLI_O_FAILON},                                     \
    {"jobs", required_argument, NULL, 'j'},                                                 \
    {"report", required_argument, NULL, CLI_O_REPORT},                                      \
    {"show-values", no_argument, NULL, CLI_O_SHOW},                                         \
    {"shard", required_argument, NULL, CLI_O_SHARD},                                        \
    {"help", no_argument, NULL, CLI_O_HELP},                                                \
    {"version", no_argument, NULL, CLI_O_VERSION}

typedef struct cli_shared {
    const char *preset, *policy_file, *report_prefix;
    deid_options opts;
    int jobs, fail_on, show_values;
    int shard_k, shard_n;        /* --shard K/N; 1/1 without it */
    verify_config *vc;           /* ocr and frames go here */
} cli_shared;

/* Defaults: the number of cores, fail on suspect, OCR of every frame. */
void cli_shared_init(cli_shared *s, verify_config *vc);
/* getopt_long that takes the shared options itself. Returns the command's own next option,
 * -1 at the end, or CLI_EXIT when the command must end now with *status (0 after --help or
 * --version, 2 after a one-line usage error). */
#define CLI_EXIT (-2)
int cli_next_option(const char *cmd, const char *usage, int argc, char **argv,
                    const char *shortopts, const struct option *longopts, cli_shared *s,
                    int *status);
struct report;
/* What run and verify set up alike once the options are read: the report's gate, start
 * time, fail_on, ocr_frames and shard facts, and the thumbnails folder PREFIX-thumbs beside
 * the report (thumbs, a caller's buffer of PATH_MAX bytes, must outlive the run). */
void cli_shared_start(cli_shared *s, struct report *rep, const char *report_prefix,
                      char *thumbs, size_t len);
/* Once every file is done: the thumbnails folder goes when nothing went into it. */
void cli_shared_end(cli_shared *s);

/* cli_pool_run for CMD, then the progress line closed and the main thread's OCR reader
 * released. Returns 0, or -1 after saying on stderr that no thread could start. */
int cli_run_workers(const char *cmd, size_t n, int jobs, cli_work_fn work, cli_work_fn done,
                    void *ud);
/* The dataset-wide findings of d into rep, and to extra(f, ud) when extra is not NULL.
 * Returns how many there were. */
size_t cli_dataset_findings(verify_dataset *d, struct report *rep,
                            void (*extra)(const verify_finding *f, void *ud), void *ud);
/* What the dataset-wide rules know of the file rep got last (report_set_file_facts), for
 * merging shard reports: tokens made with key, which are equal for equal values and
 * meaningless without it (the offset, as text, would undo the date shifting in the clear).
 * original_patient and offset may be NULL. */
void cli_report_facts(struct report *rep, const unsigned char *key, const verify_facts *facts,
                      const char *original_patient, const char *offset);

/* "deidtk CMD: <fmt with arg>" and the usage on stderr; returns 2 (usage error). */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg);
/* A JSON string literal of s (escaped) on fp. */
void cli_json_str(FILE *fp, const char *s);

/* Current time as ISO 8601 UTC into buf (at least 21 bytes). */
void cli_now(char *buf, size_t len);

#endif
