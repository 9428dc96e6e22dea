/*
 * rt.h - real-time annotations shared by every module.
 *
 * RT_SAFE marks a function (or a function-pointer type) that may run on an
 * RT thread: the engine thread or the audio thread.  With clang >= 20 it
 * expands to __attribute__((nonblocking)), so -Wfunction-effects rejects at
 * compile time any call from it to something not itself RT_SAFE (malloc,
 * locks, stdio, ...), and -fsanitize=realtime aborts at run time on any
 * intercepted blocking call made while such a function is on the stack.
 * Elsewhere it expands to nothing.
 *
 * A few system calls are deliberately made on RT threads: reading the clock,
 * the one wait per loop iteration, and the non-blocking hand-off of MIDI to
 * the kernel.  Each is wrapped in RT_SYSCALL_BEGIN(name) ... RT_SYSCALL_END,
 * which silences both checkers for exactly that region.  Every name used must
 * appear in docs/rt-safety.md ("Named exceptions"); the lint test
 * tools/check_rt_doc.py fails otherwise.  There is no blanket
 * exception.
 */
#ifndef PS_RT_RT_H
#define PS_RT_RT_H

#include <stdbool.h>

#ifndef __has_attribute
#define __has_attribute(x) 0
#endif
#ifndef __has_feature
#define __has_feature(x) 0
#endif

#if defined(__clang__) && __has_attribute(nonblocking)
#define RT_SAFE __attribute__((nonblocking))
#define RT_HAVE_EFFECTS 1
#else
#define RT_SAFE
#define RT_HAVE_EFFECTS 0
#endif

#if __has_feature(realtime_sanitizer)
void __rtsan_disable(void);
void __rtsan_enable(void);
#define RT_SAN_OFF_() __rtsan_disable()
#define RT_SAN_ON_() __rtsan_enable()
#else
#define RT_SAN_OFF_() ((void)0)
#define RT_SAN_ON_() ((void)0)
#endif

#if RT_HAVE_EFFECTS
#define RT_SYSCALL_BEGIN(name)                                           \
	_Pragma("clang diagnostic push")                                 \
	_Pragma("clang diagnostic ignored \"-Wfunction-effects\"")       \
	RT_SAN_OFF_();
#define RT_SYSCALL_END                                                   \
	RT_SAN_ON_();                                                    \
	_Pragma("clang diagnostic pop")
#else
#define RT_SYSCALL_BEGIN(name) RT_SAN_OFF_();
#define RT_SYSCALL_END RT_SAN_ON_();
#endif

/*
 * rt_thread_mark - declare the calling thread an RT thread (sets a
 * thread-local flag read by rt_assert_not_rt()).
 * Context: any thread, once at thread entry, before its RT loop.
 */
void rt_thread_mark(bool is_rt);

/*
 * rt_in_rt_thread - whether the calling thread was marked RT.
 * Context: any thread.
 */
bool rt_in_rt_thread(void);

/*
 * rt_assert_not_rt - in debug builds, abort when called on an RT thread.
 * Called first by every function that may block or allocate, like the
 * kernel's might_sleep().  Compiled out with NDEBUG.
 * Context: non-RT (that is what it checks).
 */
#ifdef NDEBUG
#define rt_assert_not_rt() ((void)0)
#else
void rt_assert_not_rt_(const char *func);
#define rt_assert_not_rt() rt_assert_not_rt_(__func__)
#endif

#endif
