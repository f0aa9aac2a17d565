// ThreadSanitizer annotations for Debian's gRPC, linked into every binary of
// a CARERELAY_SANITIZE=thread build (and only there), next to
// absl_mutex_annotations.cc.
//
// Debian builds libgrpc without ThreadSanitizer. When our code starts an
// operation on a call (grpc_call_start_batch) and gRPC later reports it
// complete on another thread, gRPC orders the two with its own atomics,
// which TSan cannot see: whatever our code wrote before starting the
// operation (a response to send, a reactor's state) then looks like a race
// with what the completion's callback does with it. This file tells TSan
// about exactly that order, per operation and nothing wider:
//
//   - grpc_call_start_batch, grpc_server_request_call and
//     grpc_server_request_registered_call release on the operation's tag;
//   - the completion acquires on the same tag: after
//     grpc_completion_queue_next or _pluck returns it (synchronous API), or,
//     for a callback completion queue (callback API: our reactors), on entry
//     to the tag's callback.
//
// grpcpp's server reactors count what must finish before OnCancel and OnDone
// may run in two atomics of grpc::internal::ServerCallbackCall. The header
// code compiled into our objects decrements them with instrumented atomics,
// but libgrpc++ decrements them too (the completion of the call, the end of
// an OnCancel run on an executor), where TSan does not see it. The decrement
// that reaches zero calls ServerCallbackCall::CallOnCancel or
// ::ScheduleOnDone, so these acquire on the counter first, as that
// acquire-release decrement does. (A decrement in libgrpc++ that does not
// reach zero is still not seen as a release: what could follow from that is
// a false report, never a race hidden.)
//
// Nothing here orders more than gRPC does: gRPC allows one batch of each
// kind at a time on a call, so a tag's release is acquired by the completion
// of that batch. Anything our own code shares between threads outside these
// hand-offs still needs its own synchronization for TSan to accept it.
//
// As for Abseil, the executable's definitions come first in symbol lookup,
// so libgrpc++'s calls into libgrpc reach these, which call the real ones
// found with dlsym(RTLD_NEXT).
//
// A callback tag is a grpc_completion_queue_functor, which libgrpc calls
// through its functor_run pointer. To run an acquire first, the pointer is
// replaced, when the operation starts, by a trampoline that acquires and then
// calls the original. A tag is taken for a functor when its first word
// points into executable code: other tags are C++ objects whose first word
// is a vtable pointer, which points into data.
#include <dlfcn.h>
#include <grpc/grpc.h>
#include <grpcpp/support/server_callback.h>
#include <link.h>
#include <sanitizer/tsan_interface.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "tests/tsan/real_function.h"

namespace {

template <typename F>
F Real(const char* name) {
  return carerelay::tsan::RealFunction<F>(name, "gRPC");
}

// Executable segments of everything loaded, taken once at the first
// operation (libgrpc and every library that defines callbacks are loaded
// by then: they are linked, not opened later).
struct CodeRanges {
  static constexpr int kMax = 256;
  uintptr_t begin[kMax];
  uintptr_t end[kMax];
  int n = 0;

  CodeRanges() {
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* self) {
          auto* r = static_cast<CodeRanges*>(self);
          for (int i = 0; i < info->dlpi_phnum && r->n < kMax; ++i) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
            r->begin[r->n] = info->dlpi_addr + ph.p_vaddr;
            r->end[r->n] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
            ++r->n;
          }
          return 0;
        },
        this);
  }

  bool Contains(uintptr_t p) const {
    for (int i = 0; i < n; ++i) {
      if (p >= begin[i] && p < end[i]) return true;
    }
    return false;
  }
};

const CodeRanges& Code() {
  static const CodeRanges ranges;
  return ranges;
}

using FunctorRun = void (*)(grpc_completion_queue_functor*, int);

// The original callbacks seen so far, one slot each, and one trampoline per
// slot: a functor's callback is replaced by the trampoline of its original's
// slot, so no table per functor is needed. There are a handful of distinct
// callbacks (grpcpp's CallbackWithSuccessTag, the server's request tags);
// a slot is claimed with a compare-and-swap. Relaxed atomics throughout:
// they must not add an order of their own between threads.
constexpr int kSlots = 32;
std::atomic<FunctorRun> g_original[kSlots];

template <int I>
void Trampoline(grpc_completion_queue_functor* functor, int ok) {
  __tsan_acquire(functor);
  g_original[I].load(std::memory_order_relaxed)(functor, ok);
}

template <int... I>
constexpr std::array<FunctorRun, sizeof...(I)> MakeTrampolines(std::integer_sequence<int, I...>) {
  return {&Trampoline<I>...};
}

const auto kTrampolines = MakeTrampolines(std::make_integer_sequence<int, kSlots>());

bool IsTrampoline(FunctorRun f) {
  for (FunctorRun t : kTrampolines) {
    if (t == f) return true;
  }
  return false;
}

// Makes the callback of `tag`, if it is a functor, acquire on it first.
void AcquireOnCallback(void* tag) {
  if (reinterpret_cast<uintptr_t>(tag) < 4096 ||
      reinterpret_cast<uintptr_t>(tag) % alignof(void*)) {
    return;  // not an object: a cookie such as (void*)1
  }
  auto* functor = static_cast<grpc_completion_queue_functor*>(tag);
  auto* run = reinterpret_cast<std::atomic<FunctorRun>*>(&functor->functor_run);
  const FunctorRun original = run->load(std::memory_order_relaxed);
  if (!Code().Contains(reinterpret_cast<uintptr_t>(original))) return;  // a vtable: not a functor
  if (IsTrampoline(original)) return;                                   // the same tag used again
  for (int i = 0; i < kSlots; ++i) {
    FunctorRun seen = g_original[i].load(std::memory_order_relaxed);
    if (seen == nullptr &&
        !g_original[i].compare_exchange_strong(seen, original, std::memory_order_relaxed)) {
      // another thread claimed the slot: `seen` is what it stored
    } else if (seen == nullptr) {
      seen = original;  // claimed here
    }
    if (seen == original) {
      run->store(kTrampolines[i], std::memory_order_relaxed);
      return;
    }
  }
  std::fprintf(stderr, "tsan annotations: more than %d distinct gRPC callbacks\n", kSlots);
  std::abort();
}

void Release(void* tag) {
  AcquireOnCallback(tag);
  __tsan_release(tag);
}

void AcquireCompleted(const grpc_event& ev) {
  if (ev.type == GRPC_OP_COMPLETE) __tsan_acquire(ev.tag);
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static auto real = Real<grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*)>(
      "grpc_call_start_batch");
  Release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                         grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification,
                                         void* tag_new) {
  static auto real =
      Real<grpc_call_error (*)(grpc_server*, grpc_call**, grpc_call_details*, grpc_metadata_array*,
                               grpc_completion_queue*, grpc_completion_queue*, void*)>(
          "grpc_server_request_call");
  Release(tag_new);
  return real(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification,
              tag_new);
}

grpc_call_error grpc_server_request_registered_call(grpc_server* server, void* registered_method,
                                                    grpc_call** call, gpr_timespec* deadline,
                                                    grpc_metadata_array* request_metadata,
                                                    grpc_byte_buffer** optional_payload,
                                                    grpc_completion_queue* cq_bound_to_call,
                                                    grpc_completion_queue* cq_for_notification,
                                                    void* tag_new) {
  static auto real = Real<grpc_call_error (*)(
      grpc_server*, void*, grpc_call**, gpr_timespec*, grpc_metadata_array*, grpc_byte_buffer**,
      grpc_completion_queue*, grpc_completion_queue*, void*)>(
      "grpc_server_request_registered_call");
  Release(tag_new);
  return real(server, registered_method, call, deadline, request_metadata, optional_payload,
              cq_bound_to_call, cq_for_notification, tag_new);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static auto real = Real<grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*)>(
      "grpc_completion_queue_next");
  const grpc_event ev = real(cq, deadline, reserved);
  AcquireCompleted(ev);
  return ev;
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  static auto real = Real<grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec, void*)>(
      "grpc_completion_queue_pluck");
  const grpc_event ev = real(cq, tag, deadline, reserved);
  AcquireCompleted(ev);
  return ev;
}

}  // extern "C"

namespace grpc::internal {

void ServerCallbackCall::ScheduleOnDone(bool inline_ondone) {
  static auto real = Real<void (*)(ServerCallbackCall*, bool)>(
      "_ZN4grpc8internal18ServerCallbackCall14ScheduleOnDoneEb");
  __tsan_acquire(&callbacks_outstanding_);
  real(this, inline_ondone);
}

void ServerCallbackCall::CallOnCancel(ServerReactor* reactor) {
  static auto real = Real<void (*)(ServerCallbackCall*, ServerReactor*)>(
      "_ZN4grpc8internal18ServerCallbackCall12CallOnCancelEPNS0_13ServerReactorE");
  __tsan_acquire(&on_cancel_conditions_remaining_);
  real(this, reactor);
}

}  // namespace grpc::internal
