# Writes a C source holding a file's bytes as an array, so the server serves
# the dashboard from its own binary (no files to install, no network).
#   cmake -DINPUT=web/dashboard.html -DOUTPUT=out.c -DSYMBOL=name -P embed.cmake
# defines: const unsigned char SYMBOL[] (NUL-terminated) and const size_t SYMBOL_len.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR length "${hex_length} / 2")
# 32 bytes per line
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
get_filename_component(name "${INPUT}" NAME)
file(WRITE "${OUTPUT}.tmp"
  "/* Generated at build time from ${name} by cmake/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "const unsigned char ${SYMBOL}[] = {\n${bytes}0x00};\n"
  "const size_t ${SYMBOL}_len = ${length};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
