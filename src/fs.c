/* fs.c: the fs bindings.  Not yet written. */
#include "bindings.h"

void
gl_fs_init (void)
{
}
