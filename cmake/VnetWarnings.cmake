# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# vnet_warnings: the warning flags of vnet's own targets. Link it PRIVATE:
#   target_link_libraries(my_target PRIVATE vnet_warnings)
# It is not applied globally, so third-party code (and DPDK's headers, which are
# SYSTEM includes) is not built with -Werror.
#
# The set is DPDK 22.11's (config/meson.build: warning_level=2 plus its
# global_cflags), the C-only ones for C only, plus the C++ warnings that
# catch real bugs here. DPDK's three -Wno-* (address-of-packed-member,
# packed-not-aligned, missing-field-initializers) are not copied: our code
# is clean under them.
add_library(vnet_warnings INTERFACE)
add_library(vnet::warnings ALIAS vnet_warnings)
target_compile_options(vnet_warnings INTERFACE
  -Wall -Wextra
  # DPDK's global_cflags that apply to C and C++
  -Wcast-qual -Wdeprecated -Wformat -Wformat-nonliteral -Wformat-security -Wmissing-declarations
  -Wpointer-arith -Wsign-compare -Wundef -Wwrite-strings
  # DPDK's C-only ones
  $<$<COMPILE_LANGUAGE:C>:-Wmissing-prototypes -Wnested-externs -Wold-style-definition -Wstrict-prototypes>
  # C++: a shadowed name, a base deleted through a non-virtual destructor,
  # a case falling through without [[fallthrough]]
  -Wshadow -Wimplicit-fallthrough $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>
  # clang's -Wmissing-declarations is about something else; its
  # -Wmissing-prototypes is what GCC's -Wmissing-declarations checks in C++.
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:Clang>>:-Wmissing-prototypes>)
if(VNET_WERROR)
  target_compile_options(vnet_warnings INTERFACE -Werror)
endif()
