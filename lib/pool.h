/*
 * pool.h - run n jobs on up to `parallelism` threads, the caller's one
 * included, with helper threads kept for the next run.
 *
 * Why: a refresh reads its objects side by side (provisioner/engine/
 * refresh.c), and a fleet's refresh (plan --all, refresh --all) does so
 * for every workspace, twice each (batch hooks, then reads).  Starting
 * and joining fresh threads for each of those runs made thousands of
 * thread starts for 500 workspaces, each one an 8 MB stack mapped and
 * unmapped (a TLB shootdown on every core), more CPU than the reads
 * themselves, which the fleet's shared answers serve from memory.  Here a
 * helper that finishes its share goes back to an idle list and the next
 * run takes it, so a process starts only as many helpers as ever run at
 * once.
 *
 * Semantics are those of a fresh pool per call: each index in [0, n) is
 * run exactly once; at most `parallelism` (at least 1) of one call's jobs
 * run at once; the caller runs jobs too and sf_pool_run returns when all
 * of them have finished.  Calls may be made from several threads at once
 * and from inside a job: a caller never waits for a helper to become free
 * (it starts a new one, or does the work itself if none can be started).
 *
 * Ownership: the helpers belong to the process; the idle ones are joined
 * by sf_pool_stop, or at exit.
 */
#ifndef SF_POOL_H
#define SF_POOL_H

#include <stddef.h>

void sf_pool_run(size_t n, int parallelism, void (*fn)(void *ctx, size_t i), void *ctx);
/* Stop and join the idle helpers (a later run starts new ones).  A
 * program calls it before it exits: a helper that ends then, while the
 * libraries it used are still set up, frees their per-thread state (an
 * OpenSSL error queue, say), which one joined by the exit-time
 * destructor, after those libraries' own exit handlers, cannot. */
void sf_pool_stop(void);
/* Helper threads started so far in this process (for tests). */
size_t sf_pool_started(void);

#endif
