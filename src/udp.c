/* udp.c: the udp bindings.  Not yet written. */
#include "bindings.h"

void
gl_udp_init (void)
{
}
