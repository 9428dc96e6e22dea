/*
 * Planted RT-safety violations, built ONLY to prove the checkers catch them.
 *
 * Compile time: compiled with -Wfunction-effects -Werror by
 * expect_compile_error.py, which passes only if the compiler rejects each of
 * the three calls below.  Never part of the product.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "rt/rt.h"

static pthread_mutex_t planted_lock = PTHREAD_MUTEX_INITIALIZER;

int planted_unsafe(int x) RT_SAFE;
int planted_unsafe(int x) RT_SAFE
{
	void *p = malloc(16);          /* allocation on the RT path */
	pthread_mutex_lock(&planted_lock); /* a lock that can block */
	printf("%d\n", x);             /* stdio */
	pthread_mutex_unlock(&planted_lock);
	free(p);
	return x;
}
