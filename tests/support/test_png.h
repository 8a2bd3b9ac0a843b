// Seal images drawn by the tests themselves: what cairo drew, as PNG.
#ifndef GOVREPORT_TESTS_SUPPORT_TEST_PNG_H_
#define GOVREPORT_TESTS_SUPPORT_TEST_PNG_H_

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace govreport::testing {

// The PNG of `surface` (cairo's encoder); the surface is destroyed.
inline std::string PngOf(cairo_surface_t* surface) {
  std::string out;
  cairo_surface_write_to_png_stream(
      surface,
      [](void* closure, const unsigned char* data, unsigned int length) {
        static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
        return CAIRO_STATUS_SUCCESS;
      },
      &out);
  cairo_surface_destroy(surface);
  return out;
}

// A red ring on a transparent `width` × `height` image, as a scanned seal
// would be.
inline std::string RingPng(int width, int height) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgba(cr, 0.85, 0.05, 0.05, 0.9);
  cairo_set_line_width(cr, 8);
  cairo_arc(cr, width / 2.0, height / 2.0, std::min(width, height) / 2.0 - 10, 0, 2 * M_PI);
  cairo_stroke(cr);
  cairo_destroy(cr);
  return PngOf(surface);
}

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_TEST_PNG_H_
