// milter/gobject_ptr.h - ownership of GMime (GObject) references.
//
// GMime hands out references the caller must g_object_unref exactly once.
// GPtr<T> does that in its destructor, so no exit path leaks or double-frees.
// borrow() takes an extra reference to an object GMime still owns.
#pragma once

#include <glib-object.h>

#include <memory>

namespace attachgate::milter {

struct GObjectUnref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};

template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

template <class T>
GPtr<T> adopt(T* p) { return GPtr<T>(p); }

template <class T>
GPtr<T> borrow(T* p) {
  if (p) g_object_ref(p);
  return GPtr<T>(p);
}

}  // namespace attachgate::milter
