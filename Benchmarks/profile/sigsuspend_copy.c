/*
 * Preloaded into purser when it runs under valgrind (Benchmarks/instructions.py).
 *
 * Why: libdispatch calls sigsuspend() with a signal mask that lives in read-only memory, and
 * valgrind's rt_sigsuspend wrapper writes into the caller's mask (it removes its own signal from
 * it), so valgrind itself dies of SIGSEGV as soon as a Swift program starts Dispatch's signal
 * thread. This sigsuspend hands the kernel a copy on the stack instead; the behaviour is the same.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, (size_t)(_NSIG / 8));
}
