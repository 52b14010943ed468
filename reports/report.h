/* reports/report.h — the run/verify report: what was inspected, what was found, which
 * findings were waived by whom, and the release gate's verdict. Written as versioned JSON
 * for machines (deidtk-report(5)) and as one self-contained HTML page for the people who
 * sign a release off; shard reports load back and merge.
 *
 * Finding values (and input paths, which often carry names and dates) are held unmasked in
 * memory and masked with verify_mask() on every write unless the caller asks to show them. */
#ifndef DEIDTK_REPORT_H
#define DEIDTK_REPORT_H

#include <stddef.h>
#include "verify/finding.h"

#define REPORT_SCHEMA "deidtk-report/1"

typedef struct report report;

/* A copy of s that is valid UTF-8, as JSON and the HTML page must be, with every invalid
 * sequence (a file name written in Latin-1, a value in another character set) replaced by
 * U+FFFD. malloc'd; NULL when out of memory or s is NULL. */
char *report_utf8(const char *s);

/* 1 when the regular files at a and b hold the same bytes, 0 when they differ, -1 (errno
 * set; EINVAL: not a regular file) when one cannot be read. Merging compares shards'
 * outputs with it, and run two inputs that make one output. */
int report_same_files(const char *a, const char *b);

/* A new empty report for `command` ("run" or "verify"); the gate fails on "policy" until
 * report_set_gate() says otherwise. Returns NULL when out of memory. Free with
 * report_free(). */
report *report_new(const char *command, const char *tool_version);
void report_free(report *r);
/* Its command ("run", "verify"), owned by the report. */
const char *report_get_command(const report *r);

/* The adders copy every string they are given. They return 0, or -1 when out of memory or
 * when an argument is invalid (errno EINVAL: unknown status, a waiver without both a
 * reviewer and a reason, a thumbnail path that is not relative). */

/* Sets (or replaces) one free-form run fact: preset, options, policy_sha256,
 * key_fingerprint, fail_on, started, ended, host, inputs, output... Order is kept.
 * policy_sha256 and key_fingerprint are compared by report_merge(). */
int report_set_meta(report *r, const char *key, const char *value);
/* The value of a run fact, or NULL; owned by the report. */
const char *report_get_meta(const report *r, const char *key);

/* One output (run) or inspected (verify) file. status is "ok", "error" or "skipped";
 * input and error may be NULL. */
int report_add_file(report *r, const char *path, const char *input, const char *status,
                    const char *error, int frames_inspected);

/* What the dataset-wide rules (verify_dataset_add) know of the file added last, kept so
 * that the shards of a run can be checked as one dataset when merged
 * (report_check_dataset). Each is a token made with the run's key, never the value: the
 * patient's pseudonym, its Study and SOP Instance UIDs, its original patient and its date
 * offset (which would undo the date shifting); NULL when unknown. */
int report_set_file_facts(report *r, const char *patient, const char *study, const char *sop,
                          const char *original_patient, const char *offset);

/* The SHA-256 (64 lower-case hex digits) of the file added last as it was verified: what a
 * release manifest certifies. */
int report_set_file_sha256(report *r, const char *sha256);
/* The files: report_file_path(r, i, ...) for i < report_file_count(r) gives the path, and
 * its status and SHA-256 (NULL when unknown) through the pointers; all owned by r. */
size_t report_file_count(const report *r);
const char *report_file_path(const report *r, size_t i, const char **status,
                             const char **sha256);

/* The findings: report_finding_id(r, i, &waived) for i < report_finding_count(r) gives the
 * id (owned by r) and whether it is waived. report_waive_finding waives finding i (both
 * strings given), or takes its waiver back (both NULL); -1 when out of memory or only one
 * is given (errno EINVAL). */
size_t report_finding_count(const report *r);
const char *report_finding_id(const report *r, size_t i, int *waived);
int report_waive_finding(report *r, size_t i, const char *by, const char *reason);

/* One finding, waived when waived_by is non-NULL (then waive_reason is required). */
int report_add_finding(report *r, const verify_finding *f, const char *waived_by,
                       const char *waive_reason);

/* Attaches a picture to a finding (by its id) or a file (by its path). png_path is relative
 * to the report's folder: the HTML page refers to it, it does not embed it. */
int report_add_thumbnail(report *r, const char *finding_or_file_id, const char *png_path);

/* The gate blocks when a finding that is not waived has severity >= fail_on, or when a
 * file has status "error". */
void report_set_gate(report *r, verify_severity fail_on);
verify_severity report_fail_on(const report *r);
int report_blocked(const report *r);

typedef struct report_summary {
    size_t files, ok, errors, skipped;
    size_t findings;                          /* all, waived included */
    size_t waived;
    size_t by_severity[SEV_LEAK + 1];         /* all, waived included */
    size_t open_by_severity[SEV_LEAK + 1];    /* not waived */
    size_t blocking;                          /* not waived and at or above fail_on */
} report_summary;

void report_get_summary(const report *r, report_summary *s);

/* Writes the report atomically (temporary file in the same folder, fsync, rename). Values
 * and input paths are masked unless show_values; a report showing them is made mode 0600
 * and says so ("values_shown": true in JSON, a red banner in HTML). Return 0, or -1 with
 * a message in err. */
int report_write_json(const report *r, const char *path, int show_values, char *err,
                      size_t errlen);
int report_write_html(const report *r, const char *path, int show_values, char *err,
                      size_t errlen);

/* Reads a report written by report_write_json(). The gate verdict is recomputed, not
 * trusted. On success *out is a new report the caller frees. Returns 0, or -1 with a
 * message in err (unreadable file, not JSON, other schema, invalid field). */
int report_load_json(const char *path, report **out, char *err, size_t errlen);

/* Appends src's files, findings and thumbnails to dst (shards of one run). dst keeps its
 * meta and records both reports' sources; the gate keeps the stricter fail_on. Refuses
 * (-1, dst unchanged) reports of different commands (run, verify), reports made with
 * different policies or keys (policy_sha256, key_fingerprint) and reports that both cover
 * the same file. Between run reports, a src
 * output at the place in the release of one of dst's (two shards' inputs with one SOP
 * Instance UID) is compared with it, by their recorded SHA-256 or else on disk: skipped
 * when the bytes are the same, an error otherwise. */
int report_merge(report *dst, const report *src, char *err, size_t errlen);

/* The dataset-wide rules (verify_dataset_finish) again, over every file r says was written
 * or inspected ("ok"), in place of the findings each shard made with them ("where":
 * "dataset"): the checks of a whole run or verify, across merged shards. A new finding with
 * the id of a waived one keeps its waiver. Returns 1 when checked; 0 when r is neither a run
 * nor a verify report, or a file has no facts (a verify without the key, or an older
 * deidtk), and r is unchanged; -1 when out of memory (r unchanged). */
int report_check_dataset(report *r);

/* The release manifest of a run report that passes its gate: every written file's place in
 * the release (PatientID/StudyUID/SeriesUID/SOPUID.dcm, whatever output folder the run or
 * shard had) with its SHA-256 as verified, in place order. A path ending in .json gets a
 * deidtk-manifest/1 document with the run facts; any other the lines of sha256sum(1),
 * which `sha256sum -c` checks in the release's folder. Written atomically. Refuses (-1,
 * err) a verify report, a blocked gate, or a written file without its SHA-256. The caller
 * checks that the files still hold those bytes. */
int report_write_manifest(const report *r, const char *path, char *err, size_t errlen);

#endif
