# VNET_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer for everything
# built in this tree (a UB report fails the test instead of scrolling by).
# VNET_FUZZ: libFuzzer coverage instrumentation for everything; fuzz targets
# themselves are declared with vnet_add_fuzzer() (cmake/VnetTesting.cmake).
if(VNET_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(VNET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VNET_FUZZ needs clang (libFuzzer): configure with the 'fuzz' preset "
                        "or -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
