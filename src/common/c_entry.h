// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The C boundary: every function our code hands to DPDK or libc as a pointer
// goes through c_entry<F> (control path) or c_noexcept<F> (bursts, signal
// handlers), so no C++ exception ever unwinds through a C frame.
//
// Error policy at the boundary. The driver is C++ built with exceptions; the
// control path (devargs, the vhost-user server, DMA set-up, the virtio-user
// transport) uses std::string, std::vector and std::function, which may throw
// std::bad_alloc or std::length_error. DPDK and libc are C: an exception
// crossing one of their frames is undefined behaviour. So:
//  - Inside the driver, errors are negative errno values and an rte_log line;
//    an exception is only ever an allocation failure or a broken invariant.
//  - c_entry<F> is a noexcept function with exactly F's signature that calls F
//    in a try block. On an exception it logs one line naming F and returns
//    F's error value: int (and any other signed integer): -ENOMEM for
//    std::bad_alloc, -EIO for anything else; unsigned integer: 0 (no packets,
//    no entries); bool: false; pointer: nullptr; void: nothing. If F is itself
//    declared noexcept, c_entry<F> is F (same address, no try block).
//  - c_noexcept<F> is F, and fails to compile unless F is declared noexcept:
//    for the bursts (no try block on the fast path) and for signal handlers
//    (which must stay async-signal-safe, so they cannot log).
//  - The virtio-net bursts (net/rxtx.h rx_burst/tx_burst) are the one
//    exception: declaring them noexcept drops a landing pad and so changes
//    register allocation, +1..2 instructions per frame under callgrind. They
//    are handed over bare, marked "// c-boundary: burst": they allocate
//    nothing and call only the rings and DPDK's C functions, none of which
//    throws. The vhost bursts and tx_prepare are noexcept (same code).
//  - Unregistering uses the same c_entry<F>: there is one instance per F, so
//    its address matches the one registered.
// tools/check-c-boundary (run by tools/format-check) keeps every ops table
// entry, probe/remove, callback and thread body that we register wrapped.
#pragma once

#include <cerrno>
#include <concepts>
#include <exception>
#include <new>
#include <string_view>
#include <type_traits>

#include "common/log.h"

namespace vnet {

namespace c_entry_detail {

// F's name, from the compiler's spelling of this function's signature
// ("... [with auto F = vnet::net::dev_start]" under GCC, "[F = &...]" under clang).
template <auto F>
consteval std::string_view name() {
  std::string_view s = __PRETTY_FUNCTION__;
  const size_t at = s.find("F = ");
  if (at == std::string_view::npos) return "?";
  s.remove_prefix(at + 4);
  if (!s.empty() && s.front() == '&') s.remove_prefix(1);
  return s.substr(0, s.find_first_of("];"));
}

// What a C caller gets back when F threw (see the policy above).
template <class R>
R error_value(bool oom) noexcept {
  if constexpr (std::is_void_v<R>) {
    return;
  } else if constexpr (std::is_pointer_v<R>) {
    return nullptr;
  } else if constexpr (std::same_as<R, bool>) {
    return false;
  } else if constexpr (std::is_integral_v<R> && std::is_signed_v<R>) {
    return static_cast<R>(oom ? -ENOMEM : -EIO);
  } else {
    static_assert(std::is_integral_v<R>, "c_entry: F returns a type with no defined error value");
    return R{0};
  }
}

// The log line. Out of the template body so every instance shares one copy.
// Under pmd.net.vnet, looked up by name (registering returns the existing
// type): the layers without the ethdev (vnet_vhost) have no vnet_logtype_net.
inline void log_escape(std::string_view fn, const char* what, bool oom) noexcept {
  static const int vnet_logtype_boundary = [] {
    const int t = rte_log_register_type_and_pick_level("pmd.net.vnet", RTE_LOG_NOTICE);
    return t < 0 ? static_cast<int>(RTE_LOGTYPE_PMD) : t;
  }();
  VNET_LOG_TYPE(boundary, "vnet", ERR, "%.*s: exception stopped at the C boundary (%s): %s",
                static_cast<int>(fn.size()), fn.data(), oom ? "out of memory" : "unexpected exception", what);
}

template <auto F, class T = decltype(F)>
struct Entry {
  static_assert(!sizeof(T), "c_entry<F>: F must be a function");
};

template <auto F, class R, class... A>
struct Entry<F, R (*)(A...)> {
  static R call(A... a) noexcept {
    try {
      return F(static_cast<A&&>(a)...);
    } catch (const std::bad_alloc& e) {
      log_escape(name<F>(), e.what(), true);
      return error_value<R>(true);
    } catch (const std::exception& e) {
      log_escape(name<F>(), e.what(), false);
    } catch (...) {
      log_escape(name<F>(), "not a std::exception", false);
    }
    return error_value<R>(false);
  }
  static constexpr auto fn = &call;
};

template <auto F, class R, class... A>
struct Entry<F, R (*)(A...) noexcept> {
  static constexpr auto fn = F;  // cannot throw: nothing to wrap
};

template <auto F, class T = decltype(F)>
struct Nothrow {
  static_assert(!sizeof(T), "c_noexcept<F>: F must be a function declared noexcept");
};

template <auto F, class R, class... A>
struct Nothrow<F, R (*)(A...) noexcept> {
  static constexpr auto fn = F;
};

}  // namespace c_entry_detail

// The function to hand to C in place of F (a function pointer constant).
template <auto F>
inline constexpr auto c_entry = c_entry_detail::Entry<F>::fn;

// F itself, for C callers that must not get a try block (bursts, signal
// handlers); does not compile unless F is declared noexcept.
template <auto F>
inline constexpr auto c_noexcept = c_entry_detail::Nothrow<F>::fn;

}  // namespace vnet
