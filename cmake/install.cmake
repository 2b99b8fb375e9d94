# install.cmake - what `cmake --install BUILD [--prefix P]` (and
# `make install PREFIX=P`) puts under the prefix:
#
#   bin/                     ttalloc-server, tt_smi, ttalloc-run, ttalloc-load
#   lib/                     libttalloc.so*, libttalloc.a, libttalloc_cuda.so
#   include/                 ttalloc.h
#   lib/pkgconfig/           ttalloc.pc             (packaging/ttalloc.pc.in)
#   share/man/man{1,3,8}/    tt_smi.1, ttalloc-run.1, ttalloc-load.1, libttalloc.3, ttalloc-server.8
#   lib/systemd/system/      tt-allocation-server.service and .socket
#   lib/sysusers.d/          ttalloc.conf: the group that may use the socket
#
# (lib is GNUInstallDirs' CMAKE_INSTALL_LIBDIR: lib/<multiarch> for /usr on
# Debian.) ttalloc.pc and the service name install paths, so they are
# configured when installing, from the prefix actually used: a --prefix given
# to `cmake --install` lands in them, not only the configure-time
# CMAKE_INSTALL_PREFIX. DESTDIR is honoured as usual.
include(GNUInstallDirs)

set(TTALLOC_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where systemd units go, relative to the prefix (or absolute)")
set(TTALLOC_SYSUSERSDIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d file creating the ttalloc group goes, relative to the prefix (or absolute)")

install(TARGETS ttalloc-server tt_smi ttalloc-run ttalloc-load
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ttalloc ttalloc_static ttalloc_cuda
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/ttalloc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES packaging/man/tt_smi.1 packaging/man/ttalloc-run.1 packaging/man/ttalloc-load.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES packaging/man/libttalloc.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
install(FILES packaging/man/ttalloc-server.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES packaging/systemd/tt-allocation-server.socket DESTINATION ${TTALLOC_SYSTEMD_UNITDIR})
install(FILES packaging/systemd/ttalloc.sysusers.conf DESTINATION ${TTALLOC_SYSUSERSDIR}
        RENAME ttalloc.conf)

# Static users of libttalloc also need what it links (libunwind once stack
# traces capture with it).
set(TTALLOC_PC_REQUIRES_PRIVATE "")
if(LIBUNWIND_FOUND)
  set(TTALLOC_PC_REQUIRES_PRIVATE "libunwind")
endif()

install(CODE "
  set(TTALLOC_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
  set(TTALLOC_STAGE_DIR \"${CMAKE_BINARY_DIR}/packaging\")
  set(TTALLOC_VERSION \"${PROJECT_VERSION}\")
  set(TTALLOC_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(TTALLOC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(TTALLOC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(TTALLOC_UNITDIR \"${TTALLOC_SYSTEMD_UNITDIR}\")
  set(TTALLOC_PC_REQUIRES_PRIVATE \"${TTALLOC_PC_REQUIRES_PRIVATE}\")
  include(\"${CMAKE_SOURCE_DIR}/cmake/install_configured.cmake\")
")
