/* process.c: the process bindings.  Not yet written. */
#include "bindings.h"

void
gl_process_init (void)
{
}
