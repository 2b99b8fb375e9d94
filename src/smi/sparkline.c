/*
 * sparkline.c - a series of numbers as one line of Unicode block characters
 * ▁▂▃▄▅▆▇█ (smi.h), for tt_smi --history. Each character takes one column.
 */
#include <math.h>

#include "smi/smi.h"

static const char *const spark_blocks[SMI_SPARK_LEVELS] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

int smi_spark_level(uint64_t value, uint64_t max)
{
	if (value == 0)
		return 0;
	if (max == 0 || value >= max)
		return SMI_SPARK_LEVELS - 1;
	/* levels 1..7 share (0, max]: round up, so the smallest use shows */
	double level = ceil((double)value * (SMI_SPARK_LEVELS - 1) / (double)max);
	if (level < 1)
		return 1;
	return level > SMI_SPARK_LEVELS - 1 ? SMI_SPARK_LEVELS - 1 : (int)level;
}

int smi_sparkline(struct strbuf *out, const uint64_t *values, const unsigned char *valid, int count, uint64_t max)
{
	if (max == 0)
		for (int i = 0; i < count; i++)
			if ((!valid || valid[i]) && values[i] > max)
				max = values[i];
	for (int i = 0; i < count; i++) {
		if (valid && !valid[i])
			strbuf_addstr(out, " ");
		else
			strbuf_addstr(out, spark_blocks[smi_spark_level(values[i], max)]);
	}
	return count > 0 ? count : 0;
}
