#include "example_frame.h"

namespace govreport::testing {

docx::DocumentFrame FullDocumentFrame() {
  docx::DocumentFrame f;
  f.copy_number = "000001";
  f.secrecy = "秘密★1年";
  f.urgency = "特急";
  f.issuing_mark = "中共某市科学技术局党组";
  f.document_number = "某科党〔2024〕3号";
  f.upward = true;
  f.signers = {"张三", "李四", "王五"};
  f.main_recipients = "市人民政府办公室";
  f.note = "此件公开发布";
  f.copy_to = "市纪委监委，市委组织部，市委宣传部，市委网信办，市政务服务和数据管理局，各区科技局";
  f.printing_org = "某市科学技术局办公室";
  f.printing_date = "2024年1月16日";
  f.sealed = true;
  return f;
}

}  // namespace govreport::testing
