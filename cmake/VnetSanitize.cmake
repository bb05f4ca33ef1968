# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# VNET_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer for everything
# built in this tree (a UB report fails the test instead of scrolling by).
# VNET_FUZZ: libFuzzer coverage instrumentation for everything; fuzz targets
# themselves are declared with vnet_add_fuzzer() (cmake/VnetTesting.cmake).
if(VNET_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# VNET_TSAN: ThreadSanitizer for everything built here (the loopback label:
# burst gates against quiesce, the RARP handoff, reconnects). DPDK itself is
# not instrumented: tests/tsan.supp names what is DPDK's alone.
if(VNET_TSAN)
  if(VNET_SANITIZE)
    message(FATAL_ERROR "VNET_TSAN and VNET_SANITIZE cannot be combined")
  endif()
  # -Wno-tsan: TSan does not model standalone fences; the ring code orders
  # shared-memory accesses with some (virtio event index), as the spec asks.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
endif()

if(VNET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VNET_FUZZ needs clang (libFuzzer): configure with the 'fuzz' preset "
                        "or -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
