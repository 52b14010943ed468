/* cli/cmd-keygen.c — deidtk keygen: make a pseudonymization key (32 random bytes, mode
 * 0600) and print its fingerprint, never the key. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include "cli/cmd.h"
#include "deid/pseudo.h"

int cmd_keygen(int argc, char **argv)
{
    if (cmd_common_flag("keygen", argc, argv))
        return 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc && !path)
            path = argv[++i];
        else if (strncmp(a, "--output=", 9) == 0 && a[9] && !path)
            path = a + 9;
        else {
            fprintf(stderr, "deidtk keygen: unexpected argument '%s'\n", a);
            return cmd_usage("keygen");
        }
    }
    if (!path || !*path) {
        fprintf(stderr, "deidtk keygen: name the key file with -o FILE\n");
        return cmd_usage("keygen");
    }
    char err[512];
    unsigned char key[DEID_KEY_LEN];
    if (deid_key_generate(path, err, sizeof err) != 0 || deid_key_load(path, key, err, sizeof err) != 0) {
        cmd_error("keygen", err);
        return EXIT_USAGE;
    }
    char fp[DEID_FINGERPRINT_LEN + 1];
    deid_key_fingerprint(key, fp);
    OPENSSL_cleanse(key, sizeof key);
    printf("key written to %s (32 bytes, mode 0600)\nfingerprint: %s\n", path, fp);
    return 0;
}
