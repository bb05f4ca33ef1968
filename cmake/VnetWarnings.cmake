# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# vnet_warnings: the warning flags of vnet's own targets. Link it PRIVATE:
#   target_link_libraries(my_target PRIVATE vnet_warnings)
# It is not applied globally, so third-party code (and DPDK's headers, which are
# SYSTEM includes) is not built with -Werror.
add_library(vnet_warnings INTERFACE)
add_library(vnet::warnings ALIAS vnet_warnings)
target_compile_options(vnet_warnings INTERFACE -Wall -Wextra)
if(VNET_WERROR)
  target_compile_options(vnet_warnings INTERFACE -Werror)
endif()
