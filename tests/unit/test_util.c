/* Unit tests for lib/: err, util, log redaction. */
#include "t.h"

#include "err.h"
#include "log.h"
#include "text.h"
#include "util.h"

T_TEST(err_format_one_line)
{
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_fail(&e, SF_ENOTFOUND, "role %s\nnot found", "x"), SF_ENOTFOUND);
	sf_err_where(&e, "spec.yaml:%d:%d", 3, 5);
	sf_err_hint(&e, "check the name");
	char buf[1024];
	T_STREQ(sf_err_format(&e, buf, sizeof buf), "spec.yaml:3:5: error: role x not found; check the name");
}

T_TEST(duration_parse_and_format)
{
	double d;
	T_EQ(sf_duration_parse("4h", &d), 0);
	T_EQ((long)d, 14400);
	T_EQ(sf_duration_parse("1h30m", &d), 0);
	T_EQ((long)d, 5400);
	T_EQ(sf_duration_parse("90", &d), 0);
	T_EQ((long)d, 90);
	T_EQ(sf_duration_parse("4x", &d), -1);
	T_EQ(sf_duration_parse("", &d), -1);
	T_EQ(sf_duration_parse("-3s", &d), -1);
	char b[32];
	T_STREQ(sf_duration_fmt(b, sizeof b, 130), "2m10s");
	T_STREQ(sf_duration_fmt(b, sizeof b, 12), "12s");
	T_STREQ(sf_duration_fmt(b, sizeof b, 3900), "1h5m");
}

T_TEST(time_roundtrip)
{
	double t;
	T_EQ(sf_time_parse("2025-03-01T10:29:00Z", &t), 0);
	char b[32];
	T_STREQ(sf_time_rfc3339(b, sizeof b, t), "2025-03-01T10:29:00Z");
	T_EQ(sf_time_parse("2025-03-01T10:29:00.123Z", &t), 0);
	T_EQ(sf_time_parse("2025-03-01T12:29:00+02:00", &t), 0);
	T_STREQ(sf_time_rfc3339(b, sizeof b, t), "2025-03-01T10:29:00Z");
	T_EQ(sf_time_parse("2025-13-01T10:29:00Z", &t), -1);
	T_EQ(sf_time_parse("yesterday", &t), -1);
}

T_TEST(buf_cap_is_sticky)
{
	struct sf_buf b = SF_BUF_INIT;
	b.cap = 8;
	sf_buf_puts(&b, "12345");
	sf_buf_puts(&b, "6789");
	T_OK(b.overflow);
	T_STREQ(sf_buf_cstr(&b), "12345");
	sf_buf_release(&b);
}

T_TEST(uuid_shape)
{
	char u[37], v[37];
	sf_uuid4(u);
	sf_uuid4(v);
	T_EQ(strlen(u), 36);
	T_OK(u[14] == '4');
	T_OK(strcmp(u, v) != 0);
}

T_TEST(loopback_rule)
{
	T_OK(sf_url_is_loopback("http://127.0.0.1:8080/"));
	T_OK(sf_url_is_loopback("https://127.3.4.5"));
	T_OK(sf_url_is_loopback("https://[::1]:443/x"));
	T_OK(sf_url_is_loopback("http://localhost:9"));
	T_OK(!sf_url_is_loopback("https://ec2.eu-west-1.amazonaws.com/"));
	T_OK(!sf_url_is_loopback("http://127.0.0.1.evil.com/"));
	T_OK(!sf_url_is_loopback("http://localhost.evil.com/"));
	T_OK(!sf_url_is_loopback("http://10.0.0.1/"));
}

T_TEST(redaction)
{
	char out[512];
	sf_log_redact(out, sizeof out,
		      "Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc\nHost: h");
	T_STREQ(out, "Authorization: REDACTED\nHost: h");
	sf_log_redact(out, sizeof out, "a=1&X-Amz-Security-Token=SECRET&b=2");
	T_STREQ(out, "a=1&X-Amz-Security-Token=REDACTED&b=2");
	sf_log_redact(out, sizeof out, "{\"password\":\"hunter2\",\"user\":\"admin\"}");
	T_STREQ(out, "{\"password\":\"REDACTED\",\"user\":\"admin\"}");
}

T_TEST(text_escape)
{
	char out[256];
	T_STREQ(sf_text_escape(out, sizeof out, "plain \xc3\xa9t\xc3\xa9", 11), "plain \xc3\xa9t\xc3\xa9");
	T_STREQ(sf_text_escape(out, sizeof out, "a\nb\tc\rd", 7), "a\\nb\\tc\\rd");
	T_STREQ(sf_text_escape(out, sizeof out, "\033[2J\a\x7f", 6), "\\x1B[2J\\x07\\x7F");
	/* C1 CSI (U+009B), right-to-left override, isolates */
	T_STREQ(sf_text_escape(out, sizeof out, "\xc2\x9b\xe2\x80\xae\xe2\x81\xa6", 8), "\\u009B\\u202E\\u2066");
	/* not UTF-8: a lone continuation byte, an overlong form, a surrogate */
	T_STREQ(sf_text_escape(out, sizeof out, "\x80\xc0\xaf\xed\xa0\x80", 6), "\\x80\\xC0\\xAF\\xED\\xA0\\x80");
	T_STREQ(sf_text_escape(out, sizeof out, "nul\0x", 5), "nul\\x00x");
	T_OK(sf_text_is_clean("ok \xc3\xa9", 5));
	T_OK(!sf_text_is_clean("\033", 1));
	/* too long: head and tail kept, the middle counted */
	char big[1000];
	memset(big, 'a', 500);
	memset(big + 500, 'z', 500);
	sf_text_escape(out, 128, big, sizeof big);
	T_OK(strlen(out) <= 127);
	T_OK(!strncmp(out, "aaaa", 4));
	T_CONTAINS(out, "bytes elided]...zz");
	T_OK(out[strlen(out) - 1] == 'z');
	/* escapes are never cut in half at the edges of the elision */
	char ctl[600];
	memset(ctl, '\033', sizeof ctl);
	sf_text_escape(out, 100, ctl, sizeof ctl);
	T_OK(strstr(out, "\\x1B...[") != NULL);
	T_OK(strstr(out, "]...\\x1B") != NULL);
}

T_TEST(err_messages_escaped_and_bounded)
{
	struct sf_err e = SF_ERR_INIT;
	sf_fail(&e, SF_EINVAL, "ttl \"%s\" is not a duration", "\033]0;x\a");
	T_STREQ(e.msg, "ttl \"\\x1B]0;x\\x07\" is not a duration");
	char *big = xmalloc(100001);
	memset(big, 'v', 100000);
	big[100000] = 0;
	sf_fail(&e, SF_EINVAL, "value \"%s\" is too long; shorten it", big);
	T_OK(strlen(e.msg) < sizeof e.msg);
	T_CONTAINS(e.msg, "vvv\" is too long; shorten it");
	free(big);
}

T_MAIN()
