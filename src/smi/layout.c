/*
 * layout.c - column positions of the device and process tables for a box of
 * any width (smi.h). Each table is a row of columns with the seed's width
 * and a minimum; a narrower box takes columns away in a fixed order, a
 * wider one gives them to one column.
 */
#include "smi/smi.h"

struct column_spec {
	int width; /* at the seed's 80 columns inside the box */
	int min;
};

/*
 * " 0      Wormhole_B0      42°C    85W       DRAM:  3.0GB / 12.0GB  (25%)     N/A "
 * Left-aligned cells keep one blank column (box.c), so the memory column
 * holds "DRAM: 12.0GB / 12.0GB  (100%)" (30) at every width.
 */
static const struct column_spec dev_columns[SMI_DEV_COLS] = {
	[SMI_DEV_LEAD] = {1, 1},   [SMI_DEV_GPU] = {7, 4},      [SMI_DEV_NAME] = {17, 12}, [SMI_DEV_TEMP] = {8, 6},
	[SMI_DEV_POWER] = {10, 6}, [SMI_DEV_MEMORY] = {31, 31}, [SMI_DEV_UTIL] = {5, 5},   [SMI_DEV_TAIL] = {1, 1},
};
static const int dev_shrink_order[] = {SMI_DEV_NAME, SMI_DEV_POWER,  SMI_DEV_TEMP,
				       SMI_DEV_GPU,  SMI_DEV_MEMORY, SMI_DEV_UTIL};

/* "   0     12345    ttuser    python                          3.0GB   450MB    " */
static const struct column_spec proc_columns[SMI_PROC_COLS] = {
	[SMI_PROC_LEAD] = {3, 3},  [SMI_PROC_GPU] = {6, 5},    [SMI_PROC_PID] = {9, 8},
	[SMI_PROC_USER] = {10, 8}, [SMI_PROC_NAME] = {32, 12}, [SMI_PROC_CONTAINER] = {0, 0},
	[SMI_PROC_DRAM] = {8, 8},  [SMI_PROC_L1] = {8, 7},     [SMI_PROC_TAIL] = {4, 1},
};
static const int proc_shrink_order[] = {SMI_PROC_TAIL, SMI_PROC_NAME, SMI_PROC_USER,
					SMI_PROC_PID,  SMI_PROC_GPU,  SMI_PROC_L1};

/* Columns the process name keeps when the container column takes half of it. */
#define NAME_WITH_CONTAINER_MIN 8

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Start columns from the widths. */
static void place_columns(struct smi_table_layout *t, int count)
{
	int start = 0;
	for (int i = 0; i < count; i++) {
		t->start[i] = start;
		start += t->width[i];
	}
}

/* Fits `count` columns into `inner` columns; see the file comment. */
static void fit_table(struct smi_table_layout *t, const struct column_spec *spec, int count, const int *shrink_order,
		      int order_count, int grow_column, int inner)
{
	int total = 0;
	for (int i = 0; i < count; i++) {
		t->width[i] = spec[i].width;
		total += spec[i].width;
	}
	if (inner > total)
		t->width[grow_column] += inner - total;
	for (int k = 0; k < order_count && total > inner; k++) {
		int c = shrink_order[k];
		int take = t->width[c] - spec[c].min;
		if (take > total - inner)
			take = total - inner;
		t->width[c] -= take;
		total -= take;
	}
	place_columns(t, count);
}

int smi_layout_clamp(int columns)
{
	if (columns < SMI_MIN_COLUMNS)
		return SMI_MIN_COLUMNS;
	return columns > SMI_MAX_COLUMNS ? SMI_MAX_COLUMNS : columns;
}

void smi_layout_compute(struct smi_layout *layout, int columns)
{
	layout->columns = smi_layout_clamp(columns);
	layout->inner = layout->columns - 2;
	fit_table(&layout->dev, dev_columns, SMI_DEV_COLS, dev_shrink_order, COUNT(dev_shrink_order), SMI_DEV_TAIL,
		  layout->inner);
	fit_table(&layout->proc, proc_columns, SMI_PROC_COLS, proc_shrink_order, COUNT(proc_shrink_order),
		  SMI_PROC_NAME, layout->inner);
}

void smi_layout_add_container(struct smi_layout *layout)
{
	struct smi_table_layout *t = &layout->proc;
	int give = t->width[SMI_PROC_NAME] / 2;
	if (give < SMI_CONTAINER_MIN_COLUMNS)
		give = SMI_CONTAINER_MIN_COLUMNS;
	/* the name keeps at least NAME_WITH_CONTAINER_MIN columns; a narrow box takes the rest from the tail */
	int from_name = t->width[SMI_PROC_NAME] - give >= NAME_WITH_CONTAINER_MIN
		? give
		: t->width[SMI_PROC_NAME] - NAME_WITH_CONTAINER_MIN;
	int from_tail = give - from_name;
	if (from_tail > t->width[SMI_PROC_TAIL] - proc_columns[SMI_PROC_TAIL].min)
		from_tail = t->width[SMI_PROC_TAIL] - proc_columns[SMI_PROC_TAIL].min;
	t->width[SMI_PROC_NAME] -= from_name;
	t->width[SMI_PROC_TAIL] -= from_tail;
	t->width[SMI_PROC_CONTAINER] = from_name + from_tail;
	place_columns(t, SMI_PROC_COLS);
}
