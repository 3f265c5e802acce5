# Installation and the Debian package (CPack DEB): `cmake --install build` or, for the package,
# `cd build && cpack -G DEB`. tests/integration/package_test.sh checks both.
include(GNUInstallDirs)

install(TARGETS comityd comity RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/comityd@.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/examples/member.conf ${CMAKE_SOURCE_DIR}/deploy/examples/outbound.conf
              ${CMAKE_SOURCE_DIR}/deploy/examples/relay.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/OPERATIONS.md ${CMAKE_SOURCE_DIR}/docs/PROTOCOL.md
              ${CMAKE_SOURCE_DIR}/docs/THREAT_MODEL.md ${CMAKE_SOURCE_DIR}/deploy/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Debian wants the changelog gzip-compressed, reproducibly (-n: no name, no time stamp); a
# native package (a version without a Debian revision) names it changelog.gz.
find_program(COMITY_GZIP gzip REQUIRED)
set(comity_changelog_gz ${CMAKE_BINARY_DIR}/changelog.gz)
add_custom_command(OUTPUT ${comity_changelog_gz}
  COMMAND ${COMITY_GZIP} -9nc ${CMAKE_SOURCE_DIR}/deploy/debian/changelog > ${comity_changelog_gz}
  DEPENDS ${CMAKE_SOURCE_DIR}/deploy/debian/changelog)
add_custom_target(comity_changelog ALL DEPENDS ${comity_changelog_gz})
install(FILES ${comity_changelog_gz} DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME comity)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Comity maintainers <maintainers@users.noreply.b-seed-b61648e7.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "secure peer-to-peer messaging for judicial networks")
# The extended description: CPack indents each line and turns the empty one into " .".
set(CPACK_PACKAGE_DESCRIPTION
"Comity links the central authorities and prosecutors of a regional judicial
network (WACAP, IberRed, the European Judicial Network and the like): draft
requests and spontaneous information travel end-to-end encrypted between
nodes whose identities the network's coordinator certifies in a signed roster.

This package holds the node, comityd (identity, network administration, the
encrypted SQLCipher archive that is the authority's legal record, the daemon
over ZeroMQ CURVE), the client, comity, and the systemd unit comityd@.service.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://comity.invalid/")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
