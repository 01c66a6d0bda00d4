/* dns.c: the dns bindings.  Not yet written. */
#include "bindings.h"

void
gl_dns_init (void)
{
}
