/*
 * text_assert.h - checks on text a unit test rendered (screens, reports,
 * JSON, metrics): a failure prints what was looked for and the whole text,
 * and names the line of the test that checked. Include after <cmocka.h>.
 */
#ifndef TTALLOC_TEST_TEXT_ASSERT_H
#define TTALLOC_TEST_TEXT_ASSERT_H

#include <stdio.h>
#include <string.h>

/* Fails the test unless `needle` stands somewhere in `text`. */
#define assert_contains(text, needle) text_assert_contains((text), (needle), 1, __FILE__, __LINE__)

/* Fails the test if `needle` stands anywhere in `text`. */
#define assert_lacks(text, needle) text_assert_contains((text), (needle), 0, __FILE__, __LINE__)

static inline void text_assert_contains(const char *text, const char *needle, int wanted, const char *file, int line)
{
	if ((strstr(text, needle) != NULL) == wanted)
		return;
	fprintf(stderr, "'%s' %s in:\n%s\n", needle, wanted ? "not found" : "found", text);
	_fail(file, line);
}

#endif /* TTALLOC_TEST_TEXT_ASSERT_H */
