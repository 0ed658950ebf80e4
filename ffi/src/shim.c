/* Small C helpers for what bindgen cannot wrap: thread-local macros. */
#include "wrapper.h"

/* rte_errno is a per-lcore (thread-local) macro, not a symbol. */
int sfc_rte_errno(void) { return rte_errno; }
