/* bulk_env COUNT PROGRAM [ARG...]: exec PROGRAM with this environment plus
 * COUNT variables E00000=v, E00001=v, ... (short, so that 100,000 of them fit
 * in the kernel's limit for an exec). Built by hardening_env.bats; shells and
 * perl take minutes to export that many, as each export scans the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: bulk_env COUNT PROGRAM [ARG...]\n", stderr);
        return 2;
    }
    const long count = strtol(argv[1], NULL, 10);
    if (count < 0 || count > 100000) {
        fputs("bulk_env: COUNT must be 0 to 100000\n", stderr);
        return 2;
    }
    size_t n = 0;
    while (environ[n] != NULL) {
        ++n;
    }
    char **envp = calloc(n + (size_t)count + 1, sizeof *envp);
    char *names = malloc((size_t)count * 9 + 1);
    if (envp == NULL || names == NULL) {
        perror("bulk_env");
        return 1;
    }
    memcpy(envp, environ, n * sizeof *envp);
    for (long i = 0; i < count; ++i) {
        char *entry = names + i * 9;
        snprintf(entry, 9, "E%05ld=v", i);
        envp[n + (size_t)i] = entry;
    }
    execve(argv[2], argv + 2, envp);
    perror(argv[2]);
    return 127;
}
