/* usage.h: --help and --version, shared by src/cli/main.c and cli.c. */
#ifndef GL_USAGE_H
#define GL_USAGE_H

void gl_help_print (const char *program);
void gl_version_print (void);

#endif
