// The frame of the whole 公文 the document tests lay out
// (tests/docx/testdata/full_document.txt): a 上行文 of 某市科学技术局 with
// every part of GB/T 9704's 版头 and 版记, sealed.
#ifndef GOVREPORT_TESTS_SUPPORT_EXAMPLE_FRAME_H_
#define GOVREPORT_TESTS_SUPPORT_EXAMPLE_FRAME_H_

#include "templates/docx/docx_writer.h"

namespace govreport::testing {

docx::DocumentFrame FullDocumentFrame();

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_EXAMPLE_FRAME_H_
