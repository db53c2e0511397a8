/* text.c - terminal-safe, bounded message text (see text.h). */
#include "text.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if it is not one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 * *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xBF;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		*cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		*cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		*cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (len < need + 1)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		unsigned b = s[i];
		if (b < lo || b > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
		*cp = (*cp << 6) | (b & 0x3F);
	}
	return need + 1;
}

static int cp_hidden(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* One unit of src at s[0..len): its source length, and its escaped form in
 * out (<= 8 bytes, not NUL-terminated) with *olen. */
static size_t unit(const char *s, size_t len, char out[8], size_t *olen)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned cp = 0;
	size_t k = utf8_seq(u, len, &cp);
	if (k == 0) {
		*olen = (size_t)snprintf(out, 8, "\\x%02X", u[0]);
		return 1;
	}
	if (k == 1) {
		switch (cp) {
		case '\n': out[0] = '\\'; out[1] = 'n'; *olen = 2; return 1;
		case '\r': out[0] = '\\'; out[1] = 'r'; *olen = 2; return 1;
		case '\t': out[0] = '\\'; out[1] = 't'; *olen = 2; return 1;
		default: break;
		}
		if (cp < 0x20 || cp == 0x7F) {
			*olen = (size_t)snprintf(out, 8, "\\x%02X", cp);
			return 1;
		}
		out[0] = (char)cp;
		*olen = 1;
		return 1;
	}
	if (cp_hidden(cp)) {
		*olen = (size_t)snprintf(out, 8, "\\u%04X", cp);
		return k;
	}
	memcpy(out, s, k);
	*olen = k;
	return k;
}

int sf_text_is_clean(const char *s, size_t len)
{
	char tmp[8];
	size_t ol;
	for (size_t i = 0; i < len;) {
		size_t k = unit(s + i, len - i, tmp, &ol);
		if (ol != k || memcmp(tmp, s + i, k))
			return 0;
		i += k;
	}
	return 1;
}

/* Start of the unit that ends at s[end] (exclusive), scanning back at most
 * 4 bytes; a byte that is no sequence's last byte is a unit of its own. */
static size_t unit_start_before(const char *s, size_t end)
{
	unsigned cp;
	for (size_t back = 2; back <= 4 && back <= end; back++) {
		size_t k = end - back;
		if (utf8_seq((const unsigned char *)s + k, back, &cp) == back)
			return k;
	}
	return end - 1;
}

char *sf_text_escape(char *dst, size_t n, const char *src, size_t len)
{
	char u[8];
	size_t ol, w = 0, o = 0;
	if (!n)
		return dst;
	if (!src)
		src = "", len = 0;
	for (size_t i = 0; i < len;)
		i += unit(src + i, len - i, u, &ol), w += ol;
	if (w < n || n < 64) {
		for (size_t i = 0; i < len;) {
			size_t k = unit(src + i, len - i, u, &ol);
			if (o + ol >= n)
				break;
			memcpy(dst + o, u, ol);
			o += ol;
			i += k;
		}
		dst[o] = 0;
		return dst;
	}
	size_t avail = n - 1 - 48; /* the marker fits in 48 bytes */
	size_t head_budget = avail * 2 / 3, tail_budget = avail - head_budget;
	size_t head_end = 0;
	while (head_end < len) {
		size_t k = unit(src + head_end, len - head_end, u, &ol);
		if (o + ol > head_budget)
			break;
		memcpy(dst + o, u, ol);
		o += ol;
		head_end += k;
	}
	size_t tail_start = len, tw = 0;
	while (tail_start > head_end) {
		size_t s = unit_start_before(src, tail_start);
		if (s < head_end)
			break;
		unit(src + s, tail_start - s, u, &ol);
		if (tw + ol > tail_budget)
			break;
		tw += ol;
		tail_start = s;
	}
	o += (size_t)snprintf(dst + o, n - o, "...[%zu bytes elided]...", tail_start - head_end);
	for (size_t i = tail_start; i < len;) {
		size_t k = unit(src + i, len - i, u, &ol);
		if (o + ol >= n)
			break;
		memcpy(dst + o, u, ol);
		o += ol;
		i += k;
	}
	dst[o] = 0;
	return dst;
}
