/*
 * box.c - the box around tt_smi's tables: rules, and rows built from cells
 * placed at given columns, optionally styled (smi.h).
 */
#include "smi/smi.h"

const char *smi_style_code(enum smi_style style)
{
	switch (style) {
	case SMI_BOLD:
		return "\033[1m";
	case SMI_DIM:
		return "\033[2m";
	case SMI_GREEN:
		return "\033[32m";
	case SMI_YELLOW:
		return "\033[33m";
	case SMI_RED:
		return "\033[31m";
	case SMI_PLAIN:
	default:
		return "";
	}
}

void smi_row_begin(struct smi_row *row, int color)
{
	strbuf_reset(&row->text);
	row->col = 0;
	row->color = color;
}

void smi_row_cell(struct smi_row *row, int start, int width, enum smi_align align, enum smi_style style,
		  const char *text)
{
	if (row->col < start) {
		strbuf_repeat(&row->text, " ", start - row->col);
		row->col = start;
	}
	int styled = row->color && style != SMI_PLAIN;
	/* a left-aligned cell keeps its last column blank, so a cut text never
	 * runs into the next cell; a right-aligned one starts after such a gap */
	int text_width = align == SMI_LEFT && width > 1 ? width - 1 : width;
	smi_text_cell_styled(&row->text, text, text_width, align, styled ? smi_style_code(style) : "",
			     styled ? SMI_STYLE_RESET : "");
	if (text_width < width)
		strbuf_addstr(&row->text, " ");
	row->col += width > 0 ? width : 0;
}

void smi_row_release(struct smi_row *row)
{
	strbuf_release(&row->text);
}

void smi_box_row(struct strbuf *out, const struct smi_row *row, int inner)
{
	strbuf_addstr(out, "│");
	int used = smi_text_clip(out, strbuf_str(&row->text), inner);
	strbuf_repeat(out, " ", inner - used);
	strbuf_addstr(out, "│\n");
	if (row->text.failed)
		out->failed = 1;
}

void smi_box_rule(struct strbuf *out, enum smi_rule rule, int inner)
{
	static const char *const ends[][2] = {
		[SMI_RULE_TOP] = {"┌", "┐"},
		[SMI_RULE_MIDDLE] = {"├", "┤"},
		[SMI_RULE_BOTTOM] = {"└", "┘"},
	};
	strbuf_addstr(out, ends[rule][0]);
	strbuf_repeat(out, "─", inner);
	strbuf_addstr(out, ends[rule][1]);
	strbuf_addstr(out, "\n");
}
