// The functions of this target are static inline, in include/linux_shims.h.
#include "linux_shims.h"
