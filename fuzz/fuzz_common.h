/* What the fuzz targets share: the embedded schemas and a fatal setup error. */
#ifndef SL_FUZZ_COMMON_H
#define SL_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

/** schemas/node_state.v1.avsc, compiled in (cmake/embed.cmake). */
extern const char sl_fuzz_node_state_v1_avsc[];
/** fuzz/schemas/node_state.future.avsc: a later writer, for the reader target. */
extern const char sl_fuzz_node_state_future_avsc[];

/** A target that cannot set itself up is broken, not fuzzed: stop loudly. */
__attribute__((noreturn)) static inline void sl_fuzz_die(const char *what, const char *errstr)
{
        fprintf(stderr, "%s: %s\n", what, errstr);
        abort();
}

#endif
