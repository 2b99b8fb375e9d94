/*
 * labels.h - enums whose values each have a short label (for counters,
 * metrics and JSON: "double_free") and words (for people: "double free"),
 * listed once as an X-macro that passes a prefix through:
 *
 *     #define FRUIT_MAP(X, P) X(P, APPLE, "apple", "an apple") X(P, PEAR, "pear", "a pear")
 *     LABELS_ENUM(fruit, FRUIT_MAP, FRUIT_, FRUITS);      // enum fruit { FRUIT_APPLE, FRUIT_PEAR, FRUITS };
 *     static const struct label fruit_labels[FRUITS] = LABELS_TABLE(FRUIT_MAP, FRUIT_);
 *
 * so the enum, its strings and their parser cannot drift apart.
 */
#ifndef TTALLOC_LABELS_H
#define TTALLOC_LABELS_H

#include <stddef.h>

/* One value's strings. */
struct label {
	const char *label; /* short, no spaces: counters, metrics, JSON */
	const char *words; /* for a log line or a person */
};

#define LABELS_ENUM_ITEM_(prefix, name, label, words) prefix##name,
#define LABELS_TABLE_ITEM_(prefix, name, label, words) [prefix##name] = {label, words},

/* The enum `type` with PREFIX##NAME per item of MAP, then `count`. */
#define LABELS_ENUM(type, MAP, prefix, count) enum type { MAP(LABELS_ENUM_ITEM_, prefix) count }

/* An initializer for a `struct label` array indexed by the enum. */
#define LABELS_TABLE(MAP, prefix)               \
	{                                       \
		MAP(LABELS_TABLE_ITEM_, prefix) \
	}

/* The label of value `v` of a table of `count`, or `fallback` when out of range. */
static inline const char *labels_label(const struct label *table, size_t count, unsigned v, const char *fallback)
{
	return v < count ? table[v].label : fallback;
}

/* The words of value `v`, or `fallback` when out of range. */
static inline const char *labels_words(const struct label *table, size_t count, unsigned v, const char *fallback)
{
	return v < count ? table[v].words : fallback;
}

/* The value whose label is `label`, or -1 (also for NULL). */
int labels_find(const struct label *table, size_t count, const char *label);

#endif /* TTALLOC_LABELS_H */
