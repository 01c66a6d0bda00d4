/* signals.c: the signals bindings.  Not yet written. */
#include "bindings.h"

void
gl_signals_init (void)
{
}
