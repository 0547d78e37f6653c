// Closing libuv handles. uv_close only starts a close: the handle's memory must stay valid until
// its close callback runs on a later loop turn, and who frees that memory differs by handle.
// These are the four ways this code owns a handle; every close goes through one of them.
#pragma once

#include <uv.h>

namespace ringproxy::proxy {

template <typename Handle>
uv_handle_t* AsHandle(Handle* handle) {
  return reinterpret_cast<uv_handle_t*>(handle);
}

// A handle that is a member of an object outliving the loop (a worker's timers): nothing to free.
template <typename Handle>
void CloseHandle(Handle* handle) {
  uv_close(AsHandle(handle), nullptr);
}

// A handle allocated on its own with new: deleted once closed. Null is ignored.
template <typename Handle>
void CloseAndDelete(Handle* handle) {
  if (handle == nullptr) return;
  uv_close(AsHandle(handle), [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
}

// A handle inside an object allocated with new that its `data` points to: the object is deleted
// once the handle is closed.
template <typename Owner, typename Handle>
void CloseAndDeleteOwner(Handle* handle) {
  uv_close(AsHandle(handle), [](uv_handle_t* h) { delete static_cast<Owner*>(h->data); });
}

// Several handles inside one object allocated with new, each with `data` pointing to it: the
// object is deleted once the last of them is closed. It counts them in its `closing_handles`.
template <typename Owner, typename... Handles>
void CloseAllAndDeleteOwner(Owner* owner, Handles*... handles) {
  owner->closing_handles = sizeof...(Handles);
  auto on_close = [](uv_handle_t* h) {
    auto* closing = static_cast<Owner*>(h->data);
    if (--closing->closing_handles == 0) delete closing;
  };
  (uv_close(AsHandle(handles), on_close), ...);
}

}  // namespace ringproxy::proxy
