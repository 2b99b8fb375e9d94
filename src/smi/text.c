/*
 * text.c - display width of UTF-8 text, and cells cut or padded to a width
 * (smi.h). A small wcwidth(): tt_smi only prints ASCII, "°", box-drawing
 * characters, ✅/❌ and whatever names processes give themselves, so a
 * table of the common wide and zero-width ranges is enough and keeps the
 * result independent of the locale.
 */
#include <string.h>

#include "smi/smi.h"

struct code_range {
	uint32_t first;
	uint32_t last;
};

/* Characters a terminal draws two columns wide (East Asian Wide, emoji). */
static const struct code_range wide_ranges[] = {
	{0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},   {0x23F0, 0x23F0},
	{0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x267F, 0x267F},
	{0x2693, 0x2693},   {0x26A1, 0x26A1},   {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},
	{0x26CE, 0x26CE},   {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
	{0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},   {0x2728, 0x2728},
	{0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},
	{0x27B0, 0x27B0},   {0x27BF, 0x27BF},   {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},
	{0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
	{0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},
	{0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB},
	{0x1F900, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x3FFFD},
};

/* Characters that take no column of their own (combining marks, joiners). */
static const struct code_range zero_ranges[] = {
	{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},   {0x0610, 0x061A}, {0x064B, 0x065F},
	{0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x2064},   {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
	{0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0000, 0xE0FFF},
};

static int in_ranges(uint32_t cp, const struct code_range *ranges, size_t count)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < ranges[mid].first)
			hi = mid;
		else if (cp > ranges[mid].last)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

#define RANGE_COUNT(r) (sizeof(r) / sizeof((r)[0]))

static int codepoint_width(uint32_t cp)
{
	if (in_ranges(cp, zero_ranges, RANGE_COUNT(zero_ranges)))
		return 0;
	return in_ranges(cp, wide_ranges, RANGE_COUNT(wide_ranges)) ? 2 : 1;
}

/*
 * Decodes one UTF-8 sequence at `s`. Returns its length in bytes (0 at the
 * end of the string) and the code point, or -1 for a byte that does not
 * start a valid, shortest-form sequence.
 */
static size_t utf8_decode(const unsigned char *s, int32_t *cp)
{
	if (!s[0])
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len;
	uint32_t value, min;
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2, value = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, value = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, value = s[0] & 0x07, min = 0x10000;
	} else {
		*cp = -1;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*cp = -1;
			return 1;
		}
		value = (value << 6) | (s[i] & 0x3F);
	}
	if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
		*cp = -1;
		return 1;
	}
	*cp = (int32_t)value;
	return len;
}

/* Length of the ANSI escape sequence at `s` (which starts with ESC). */
static size_t escape_length(const char *s)
{
	if (s[1] != '[')
		return s[1] ? 2 : 1;
	size_t i = 2;
	while (s[i] && !(s[i] >= 0x40 && s[i] <= 0x7E))
		i++;
	return s[i] ? i + 1 : i;
}

/* One thing on screen: its bytes, its columns, and whether it is an escape. */
struct glyph {
	size_t len;
	int width;
	int escape;
};

/* Reads the glyph at `s`; len 0 at the end of the string. */
static struct glyph next_glyph(const char *s)
{
	struct glyph g = {0, 0, 0};
	if (*s == '\033') {
		g.len = escape_length(s);
		g.escape = 1;
		return g;
	}
	int32_t cp;
	g.len = utf8_decode((const unsigned char *)s, &cp);
	if (g.len)
		g.width = cp < 0 ? 1 : codepoint_width((uint32_t)cp);
	return g;
}

int smi_text_width(const char *s)
{
	int width = 0;
	for (struct glyph g = next_glyph(s); g.len; s += g.len, g = next_glyph(s))
		width += g.width;
	return width;
}

int smi_text_clip(struct strbuf *b, const char *s, int cols)
{
	int used = 0, full = 0;
	for (struct glyph g = next_glyph(s); g.len; s += g.len, g = next_glyph(s)) {
		if (g.escape) {
			strbuf_add(b, s, g.len);
			continue;
		}
		if (full || used + g.width > cols) {
			full = 1; /* drop the rest, keep later escapes */
			continue;
		}
		strbuf_add(b, s, g.len);
		used += g.width;
	}
	return used;
}

void smi_text_cell_styled(struct strbuf *b, const char *s, int cols, enum smi_align align, const char *on,
			  const char *off)
{
	if (cols <= 0)
		return;
	int width = smi_text_width(s);
	int pad = width > cols ? 0 : cols - width;
	if (align == SMI_RIGHT)
		strbuf_repeat(b, " ", pad);
	strbuf_addstr(b, on);
	if (width > cols) {
		size_t start = b->len;
		int used = smi_text_clip(b, s, cols - 1);
		while (b->len > start && b->buf[b->len - 1] == ' ') /* "using…", not "using …" */
			b->buf[--b->len] = '\0', used--;
		strbuf_addstr(b, "…");
		pad = cols - 1 - used; /* a wide character did not fit */
	} else {
		strbuf_addstr(b, s);
	}
	strbuf_addstr(b, off);
	if (align == SMI_LEFT || width > cols)
		strbuf_repeat(b, " ", pad);
}

void smi_text_cell(struct strbuf *b, const char *s, int cols, enum smi_align align)
{
	smi_text_cell_styled(b, s, cols, align, "", "");
}

void smi_text_sanitize(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return;
	size_t out = 0;
	while (*src) {
		int32_t cp;
		size_t len = utf8_decode((const unsigned char *)src, &cp);
		int bad = cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
		const char *piece = bad ? "?" : src;
		size_t piece_len = bad ? 1 : len;
		if (out + piece_len >= size)
			break;
		memcpy(dst + out, piece, piece_len);
		out += piece_len;
		src += len;
	}
	dst[out] = '\0';
}
