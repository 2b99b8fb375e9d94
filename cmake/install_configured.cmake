# install_configured.cmake - run by `cmake --install` (see install.cmake):
# configures ttalloc.pc and tt-allocation-server.service with the prefix of
# this installation and installs them. CMAKE_INSTALL_PREFIX here is the one
# given to `cmake --install --prefix`, else the configure-time one.

# An install path as the installed files must name it: absolute, no DESTDIR.
function(ttalloc_absolute out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${TTALLOC_LIBDIR}")
  set(PC_LIBDIR "${TTALLOC_LIBDIR}")
else()
  set(PC_LIBDIR "\${exec_prefix}/${TTALLOC_LIBDIR}")
endif()
if(IS_ABSOLUTE "${TTALLOC_INCLUDEDIR}")
  set(PC_INCLUDEDIR "${TTALLOC_INCLUDEDIR}")
else()
  set(PC_INCLUDEDIR "\${prefix}/${TTALLOC_INCLUDEDIR}")
endif()
set(PC_VERSION "${TTALLOC_VERSION}")
set(PC_REQUIRES_PRIVATE "${TTALLOC_PC_REQUIRES_PRIVATE}")
ttalloc_absolute(BINDIR "${TTALLOC_BINDIR}")

configure_file("${TTALLOC_SOURCE_DIR}/packaging/ttalloc.pc.in" "${TTALLOC_STAGE_DIR}/ttalloc.pc" @ONLY)
configure_file("${TTALLOC_SOURCE_DIR}/packaging/systemd/tt-allocation-server.service.in"
               "${TTALLOC_STAGE_DIR}/tt-allocation-server.service" @ONLY)

ttalloc_absolute(libdir "${TTALLOC_LIBDIR}")
ttalloc_absolute(unitdir "${TTALLOC_UNITDIR}")
# file(INSTALL) prepends $ENV{DESTDIR} and prints "-- Installing: ..." like the rest.
file(INSTALL "${TTALLOC_STAGE_DIR}/ttalloc.pc" DESTINATION "${libdir}/pkgconfig")
file(INSTALL "${TTALLOC_STAGE_DIR}/tt-allocation-server.service" DESTINATION "${unitdir}")
