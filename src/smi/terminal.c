/*
 * terminal.c - the terminal in watch mode (smi.h): keys without Enter, the
 * alternate screen, and frames drawn over the previous one instead of after
 * a clear, so the screen never flickers. What smi_term_enter changes is
 * kept here so that every way out - q, a signal, an error - can undo it.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "smi/smi.h"

/* Alternate screen, cursor hidden, no line wrap (long lines are cut), cleared once. */
#define ENTER_SEQUENCE "\033[?1049h\033[?25l\033[?7l\033[H\033[2J"
/* Styles off, line wrap and cursor back, main screen back. */
#define LEAVE_SEQUENCE "\033[0m\033[?7h\033[?25h\033[?1049l"

static struct {
	int in_fd;
	int out_fd;
	int entered;   /* screen sequences sent */
	int input_raw; /* `saved` holds the modes to restore */
	struct termios saved;
} term = {.in_fd = -1, .out_fd = -1};

int smi_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int smi_term_size(int fd, int *rows, int *cols)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
		return -1;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}

/* Non-canonical input without echo; signal keys (Ctrl-C, Ctrl-Z) still work. */
static int input_enter(int fd)
{
	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &term.saved) < 0)
		return -1;
	struct termios raw = term.saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return -1;
	term.input_raw = 1;
	return 0;
}

int smi_term_enter(int in_fd, int out_fd)
{
	if (term.entered || term.input_raw)
		smi_term_leave();
	term.in_fd = in_fd;
	term.out_fd = out_fd;
	if (input_enter(in_fd) < 0)
		return -1;
	term.entered = 1;
	if (smi_write_all(out_fd, ENTER_SEQUENCE, sizeof(ENTER_SEQUENCE) - 1) < 0) {
		int saved = errno;
		smi_term_leave();
		errno = saved;
		return -1;
	}
	return 0;
}

/* Only tcsetattr() and write(): callable from a signal handler. */
static void restore(void)
{
	if (term.input_raw)
		tcsetattr(term.in_fd, TCSANOW, &term.saved);
	if (term.entered)
		smi_write_all(term.out_fd, LEAVE_SEQUENCE, sizeof(LEAVE_SEQUENCE) - 1);
}

void smi_term_leave(void)
{
	restore();
	term.input_raw = 0;
	term.entered = 0;
}

void smi_term_emergency_restore(void)
{
	restore();
}

void smi_frame_compose(struct strbuf *out, const char *text, int rows, int cols)
{
	strbuf_addstr(out, "\033[H");
	for (int n = 0; *text && (rows <= 0 || n < rows); n++) {
		size_t len = strcspn(text, "\n");
		if (n > 0)
			strbuf_addstr(out, "\r\n");
		size_t start = out->len;
		strbuf_add(out, text, len);
		/* Erasing after a line that fills the screen's width would erase its
		 * last character: the cursor stays on the last column. */
		if (cols <= 0 || (!out->failed && smi_text_width(out->buf + start) < cols))
			strbuf_addstr(out, "\033[K");
		text += len;
		if (*text == '\n')
			text++;
	}
	strbuf_addstr(out, "\033[J");
}
