# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# vnet::dpdk — everything a target needs to use DPDK, including the driver-SDK
# headers (ethdev_driver.h, bus_pci_driver.h, ...).
#
#  * libdpdk through pkg-config; its cflags (-include rte_config.h -march=...)
#    are kept, as DPDK's inline functions need them;
#  * DPDK's include directories as SYSTEM includes: DPDK headers warn under
#    -std=c++20 (-Wvolatile) and must not trip vnet's -Werror;
#  * the driver-SDK headers: Debian builds DPDK without enable_driver_sdk, so
#    tools/setup.sh extracts them from Debian's source package of the installed
#    version into build/deps/dpdk-sdk/include (VNET_DPDK_SDK_INCLUDE). Used only
#    when DPDK's own include directories lack them;
#  * the bus drivers (librte_bus_pci, librte_bus_vdev), which the shared
#    libdpdk.pc does not list but a PMD calls into;
#  * ALLOW_INTERNAL_API and ALLOW_EXPERIMENTAL_API.
find_package(PkgConfig REQUIRED)
pkg_check_modules(DPDK REQUIRED IMPORTED_TARGET libdpdk)
message(STATUS "DPDK ${DPDK_VERSION}")

set(VNET_DPDK_SDK_HEADERS
  ethdev_driver.h ethdev_vdev.h ethdev_pci.h
  bus_pci_driver.h bus_vdev_driver.h bus_driver.h dev_driver.h rte_dmadev_pmd.h)
set(VNET_DPDK_SDK_INCLUDE "${PROJECT_SOURCE_DIR}/build/deps/dpdk-sdk/include"
    CACHE PATH "Where tools/setup.sh put DPDK's driver-SDK headers (used only if DPDK lacks them)")

# Which directory provides each SDK header: DPDK's own include dirs first.
function(_vnet_dpdk_sdk_missing out)
  set(missing "")
  foreach(h IN LISTS VNET_DPDK_SDK_HEADERS)
    set(found FALSE)
    foreach(d IN LISTS ARGN)
      if(EXISTS "${d}/${h}")
        set(found TRUE)
        break()
      endif()
    endforeach()
    if(NOT found)
      list(APPEND missing ${h})
    endif()
  endforeach()
  set(${out} "${missing}" PARENT_SCOPE)
endfunction()

_vnet_dpdk_sdk_missing(_vnet_missing ${DPDK_INCLUDE_DIRS})
set(_vnet_sdk_dirs "")
if(_vnet_missing)
  _vnet_dpdk_sdk_missing(_vnet_missing_sdk ${VNET_DPDK_SDK_INCLUDE})
  if(_vnet_missing_sdk)
    message(FATAL_ERROR
      "DPDK driver-SDK headers not found: ${_vnet_missing_sdk}\n"
      "They are neither in DPDK's include directories (${DPDK_INCLUDE_DIRS}) nor in "
      "VNET_DPDK_SDK_INCLUDE=${VNET_DPDK_SDK_INCLUDE}.\n"
      "Run tools/vnet setup (or tools/setup.sh) first.")
  endif()
  set(_vnet_sdk_dirs "${VNET_DPDK_SDK_INCLUDE}")
  message(STATUS "DPDK driver-SDK headers: ${VNET_DPDK_SDK_INCLUDE}")
else()
  message(STATUS "DPDK driver-SDK headers: installed with DPDK")
endif()

# Bus drivers: a PMD registers itself with them.
pkg_get_variable(DPDK_LIBDIR libdpdk libdir)
set(_vnet_bus_libs "")
foreach(bus rte_bus_pci rte_bus_vdev)
  find_library(VNET_${bus}_LIBRARY NAMES ${bus} HINTS ${DPDK_LIBDIR} ${DPDK_LIBRARY_DIRS})
  if(NOT VNET_${bus}_LIBRARY)
    message(FATAL_ERROR "lib${bus}.so not found (looked in ${DPDK_LIBDIR})")
  endif()
  list(APPEND _vnet_bus_libs ${VNET_${bus}_LIBRARY})
endforeach()

# Take the include directories off the imported target and re-add them as
# SYSTEM on ours, so that they are -isystem whatever NO_SYSTEM_FROM_IMPORTED says.
get_target_property(_vnet_dpdk_inc PkgConfig::DPDK INTERFACE_INCLUDE_DIRECTORIES)
set_property(TARGET PkgConfig::DPDK PROPERTY INTERFACE_INCLUDE_DIRECTORIES "")

add_library(vnet_dpdk INTERFACE)
add_library(vnet::dpdk ALIAS vnet_dpdk)
target_link_libraries(vnet_dpdk INTERFACE PkgConfig::DPDK ${_vnet_bus_libs})
target_include_directories(vnet_dpdk SYSTEM INTERFACE ${_vnet_dpdk_inc} ${_vnet_sdk_dirs})
target_compile_definitions(vnet_dpdk INTERFACE ALLOW_INTERNAL_API ALLOW_EXPERIMENTAL_API)

# For tests: the directory Debian's DPDK auto-loads its plugins from
# (net_virtio, net_vhost, dma_skeleton, ...) and dpdk-testpmd.
file(GLOB _vnet_pmd_dirs LIST_DIRECTORIES TRUE "${DPDK_LIBDIR}/dpdk/pmds-*")
list(SORT _vnet_pmd_dirs)
list(POP_BACK _vnet_pmd_dirs _vnet_pmd_dir)
set(VNET_DPDK_PMD_DIR "${_vnet_pmd_dir}" CACHE PATH "DPDK's plugin directory")
find_program(VNET_DPDK_TESTPMD dpdk-testpmd)
unset(_vnet_pmd_dirs)
unset(_vnet_pmd_dir)
unset(_vnet_missing)
unset(_vnet_missing_sdk)
unset(_vnet_dpdk_inc)

# vnet_instant_dma: dma_instant (benchmarks/instant_dma.cc), a dmadev whose
# copies are done when submitted. The DMA cost benchmark counts with it and
# test_vhost_dma runs the backend's DMA path over it; whichever asks first
# defines it. Link it whole: it registers itself at start-up.
function(vnet_add_instant_dma)
  if(NOT TARGET vnet_instant_dma)
    add_library(vnet_instant_dma STATIC ${PROJECT_SOURCE_DIR}/benchmarks/instant_dma.cc)
    target_link_libraries(vnet_instant_dma PRIVATE vnet::dpdk vnet_warnings)
  endif()
endfunction()
