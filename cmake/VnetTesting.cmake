# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# Helpers for tests and fuzzers. Optional: plain add_executable/add_test work
# too; what matters is that every test carries one of the labels
#   unit      rings, codecs, parsers, copy engines — needs nothing
#   loopback  our PMD <-> our backend in one EAL
#   interop   against DPDK's net_vhost / net_virtio_user / dpdk-testpmd
#   vm        our PCI PMD inside a QEMU guest
#   fuzz      libFuzzer targets (VNET_FUZZ=ON, clang)
# because tools/vnet test and the test presets select by label.

include(GoogleTest)

# vnet_add_gtest(<name> SOURCES <src>... [LIBS <lib>...] [LABELS <label>...]
#                [TIMEOUT <s>] [RUN_SERIAL])
# A GoogleTest executable; each TEST() becomes one ctest test, named
# <name>.<Suite>.<Test>, labelled LABELS (default unit). Tests are listed
# when ctest runs (DISCOVERY_MODE PRE_TEST), not at build time, so building
# never runs a test binary.
function(vnet_add_gtest name)
  cmake_parse_arguments(ARG "RUN_SERIAL" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main vnet_warnings)
  set(props TIMEOUT ${ARG_TIMEOUT})
  if(ARG_RUN_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  gtest_discover_tests(${name}
    TEST_PREFIX "${name}."
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 30
    TEST_LIST ${name}_TESTS
    PROPERTIES ${props})
  # Labels are set by a script ctest reads after the discovered tests:
  # gtest_discover_tests cannot pass a list-valued property (CMake 3.25).
  set(labels_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
  file(WRITE "${labels_file}"
    "foreach(t IN LISTS ${name}_TESTS)\n"
    "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${ARG_LABELS}\")\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_file}")
endfunction()

# vnet_add_fuzzer(<name> SOURCES <src>... [LIBS <lib>...] [CORPUS <dir>] [SECONDS <n>])
# A libFuzzer target (defines LLVMFuzzerTestOneInput). Built only with
# VNET_FUZZ=ON. Registered as ctest test fuzz.<name> (label fuzz) that fuzzes
# for VNET_FUZZ_SECONDS (or SECONDS) starting from the seed corpus CORPUS (read
# only; new inputs go to <build>/fuzz-corpus/<name>).
set(VNET_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz target runs under ctest")
function(vnet_add_fuzzer name)
  if(NOT VNET_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "CORPUS;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_SECONDS)
    set(ARG_SECONDS ${VNET_FUZZ_SECONDS})
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} vnet_warnings)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(work "${PROJECT_BINARY_DIR}/fuzz-corpus/${name}")
  file(MAKE_DIRECTORY "${work}")
  set(dirs "${work}")
  if(ARG_CORPUS)
    list(APPEND dirs "${ARG_CORPUS}")
  endif()
  add_test(NAME fuzz.${name}
           COMMAND ${name} -max_total_time=${ARG_SECONDS} -print_final_stats=1 ${dirs})
  set_tests_properties(fuzz.${name} PROPERTIES
    LABELS fuzz
    TIMEOUT 600
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1")
endfunction()
