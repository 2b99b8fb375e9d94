/*
 * subcommands.c - which live view (top, dmon or pmon) a first argument of
 * tt_smi names (top.h). Anything else is tt_smi's own command line.
 */
#include <string.h>

#include "smi/top.h"

static int run_dmon(int argc, char **argv)
{
	return smi_stream_main(SMI_DMON, argc, argv);
}

static int run_pmon(int argc, char **argv)
{
	return smi_stream_main(SMI_PMON, argc, argv);
}

smi_subcommand_fn smi_subcommand(const char *name)
{
	static const struct {
		const char *name;
		smi_subcommand_fn run;
	} table[] = {{"top", smi_top_main}, {"dmon", run_dmon}, {"pmon", run_pmon}};
	for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(name, table[i].name) == 0)
			return table[i].run;
	return NULL;
}
