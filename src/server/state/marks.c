/*
 * marks.c - marks and the journal of frees (marks.h).
 */
#include "server/state/marks.h"

#include <stdlib.h>
#include <string.h>

void marks_init(struct marks *m)
{
	memset(m, 0, sizeof(*m));
}

void marks_release(struct marks *m)
{
	free(m->ring);
	free(m->journal);
	memset(m, 0, sizeof(*m));
}

const struct mark *marks_get(const struct marks *m, uint32_t i)
{
	return &m->ring[(m->start + i) % MARKS_KEEP];
}

const struct mark *marks_add(struct marks *m, const char *label, pid_t pid, uint64_t now_mono, uint64_t now_real)
{
	if (!m->ring && !(m->ring = calloc(MARKS_KEEP, sizeof(*m->ring))))
		return NULL;
	struct mark *mk;
	if (m->count == MARKS_KEEP) {
		mk = &m->ring[m->start];
		m->start = (m->start + 1) % MARKS_KEEP;
	} else {
		mk = &m->ring[(m->start + m->count++) % MARKS_KEEP];
	}
	memset(mk, 0, sizeof(*mk));
	mk->id = ++m->total;
	mk->mono_ns = now_mono > m->last_ns ? now_mono : m->last_ns + 1;
	mk->real_ns = now_real;
	mk->pid = pid;
	strncpy(mk->label, label, PROTO_TEXT_MAX);
	m->last_ns = mk->mono_ns;
	return mk;
}

const struct mark *marks_find(const struct marks *m, const char *label)
{
	for (uint32_t i = m->count; i-- > 0;) {
		const struct mark *mk = marks_get(m, i);
		if (strcmp(mk->label, label) == 0)
			return mk;
	}
	return NULL;
}

/* Doubles the journal (re-laid oldest first) while under JOURNAL_MAX. Returns 0 or -1. */
static int grow_journal(struct marks *m)
{
	uint32_t cap = m->jcap ? m->jcap * 2 : 1024;
	if (cap > JOURNAL_MAX)
		cap = JOURNAL_MAX;
	struct journal_entry *grown = malloc((size_t)cap * sizeof(*grown));
	if (!grown)
		return -1;
	for (uint32_t i = 0; i < m->jcount; i++)
		grown[i] = *marks_journal_get(m, i);
	free(m->journal);
	m->journal = grown;
	m->jcap = cap;
	m->jstart = 0;
	return 0;
}

void marks_journal(struct marks *m, const struct journal_entry *e)
{
	if (m->jcount == m->jcap && (m->jcap >= JOURNAL_MAX || grow_journal(m) < 0)) {
		if (!m->jcap) { /* no memory at all: the entry is lost, diffs before it are not exact */
			if (e->free_ns > m->horizon_ns)
				m->horizon_ns = e->free_ns;
			m->dropped++;
			return;
		}
		const struct journal_entry *old = &m->journal[m->jstart];
		if (old->free_ns > m->horizon_ns)
			m->horizon_ns = old->free_ns;
		m->jstart = (m->jstart + 1) % m->jcap;
		m->jcount--;
		m->dropped++;
	}
	m->journal[(m->jstart + m->jcount++) % m->jcap] = *e;
	m->journaled++;
}

const struct journal_entry *marks_journal_get(const struct marks *m, uint32_t i)
{
	return &m->journal[(m->jstart + i) % m->jcap];
}
