/* RT log: records drained in order and formatted; overflow dropped and
 * reported once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "rt/rtlog.h"

struct sink {
	int n;
	int level[16];
	char text[16][128];
};

static void sink_cb(void *ctx, int level, int64_t t_ns, const char *text)
{
	struct sink *s = ctx;

	(void)t_ns;
	if (s->n < 16) {
		s->level[s->n] = level;
		snprintf(s->text[s->n], sizeof(s->text[0]), "%s", text);
	}
	s->n++;
}

static void test_format_and_order(void **state)
{
	static struct rtlog_rec buf[8];
	struct rtlog l;
	struct sink s = { 0 };

	(void)state;
	assert_int_equal(rtlog_init(&l, buf, 8), 0);
	RTLOG(&l, LOG_WARNING, 1, "late by %" PRId64 " ns", (int64_t)1500);
	RTLOG(&l, LOG_INFO, 2, "plain message");
	RTLOG(&l, LOG_ERR, 3, "%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRIx64, (int64_t)1, (int64_t)-2,
	      (int64_t)3, (int64_t)255);
	assert_int_equal(rtlog_drain(&l, sink_cb, &s), 3);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.text[0], "late by 1500 ns");
	assert_int_equal(s.level[0], LOG_WARNING);
	assert_string_equal(s.text[1], "plain message");
	assert_string_equal(s.text[2], "1/-2/3/ff");
	assert_int_equal(rtlog_drain(&l, sink_cb, &s), 0);
}

static void test_overflow_counted_and_reported_once(void **state)
{
	static struct rtlog_rec buf[4];
	struct rtlog l;
	struct sink s = { 0 };

	(void)state;
	rtlog_init(&l, buf, 4);
	for (int64_t i = 0; i < 10; i++)
		RTLOG(&l, LOG_INFO, i, "msg %" PRId64, i);
	assert_int_equal(rtlog_drain(&l, sink_cb, &s), 4);
	assert_int_equal(s.n, 5); /* the drop report, then 4 records */
	assert_int_equal(s.level[0], LOG_WARNING);
	assert_non_null(strstr(s.text[0], "6 records dropped"));
	assert_string_equal(s.text[1], "msg 0");
	assert_string_equal(s.text[4], "msg 3");
	s.n = 0;
	RTLOG(&l, LOG_INFO, 0, "after");
	assert_int_equal(rtlog_drain(&l, sink_cb, &s), 1);
	assert_int_equal(s.n, 1); /* no second drop report */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_order),
		cmocka_unit_test(test_overflow_counted_and_reported_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
