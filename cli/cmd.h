/* cli/cmd.h — the subcommand table: every `deidtk NAME` is one cmd-NAME.c file.
 * Only cli/ prints; library stages return a status and an error message. */
#ifndef DEIDTK_CMD_H
#define DEIDTK_CMD_H

#include <stdio.h>

/* Exit statuses shared by every command (deidtk(1), EXIT STATUS). */
enum {
    EXIT_GATE_PASS = 0,
    EXIT_GATE_BLOCKED = 1,
    EXIT_USAGE = 2,
    EXIT_UNREADABLE = 3
};

struct cmd {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the command name */
    const char *usage;                    /* one line, after "deidtk " */
    const char *summary;
};

extern const struct cmd cmd_table[];

int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_dump(int argc, char **argv);

/* Prints "usage: deidtk <usage>" for the named command to stderr; returns EXIT_USAGE. */
int cmd_usage(const char *name);
/* Handles --help / --version as argv[1]; returns 1 if it did (caller exits 0). */
int cmd_common_flag(const char *name, int argc, char **argv);
/* text on fp with its control characters written as C escapes (\n, \r, \t, \x1b). Input file
 * names and values may hold a line break or a terminal's escape sequence: so written, every
 * message and every field keeps to its line and prints as text. */
void cmd_put_text(FILE *fp, const char *text);
/* "deidtk NAME: MSG" and a newline on stderr, MSG through cmd_put_text. */
void cmd_error(const char *name, const char *msg);

#endif
