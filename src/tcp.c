/* tcp.c: the tcp bindings.  Not yet written. */
#include "bindings.h"

void
gl_tcp_init (void)
{
}
