/* cli.h: the front ends (DESIGN.md §2): invoke and batch. */
#ifndef GL_CLI_H
#define GL_CLI_H

/* Define %guile-lambda-main, which src/main.c calls with the command
   line and whose answer is the exit status. */
void gl_cli_init (void);

#endif
