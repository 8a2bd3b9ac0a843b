#include "common/reflection_v1.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace govreport {
namespace {

namespace gp = ::google::protobuf;
using grpc::reflection::v1::ExtensionRequest;
using grpc::reflection::v1::FileDescriptorResponse;

// The file and, depth first, everything it imports, each once: a client
// needs the imports to build the file's descriptors.
void AddWithDependencies(const gp::FileDescriptor* file, std::set<std::string>* sent,
                         FileDescriptorResponse* out) {
  if (!sent->insert(file->name()).second) return;
  gp::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddWithDependencies(file->dependency(i), sent, out);
  }
}

// The file an answer sends, or NOT_FOUND naming what is unknown (the codes
// and texts v1alpha answers with).
grpc::Status FileFor(const gp::FileDescriptor* file, absl::string_view what, absl::string_view name,
                     FileDescriptorResponse* out) {
  if (file == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, absl::StrCat(what, " not found: ", name)};
  }
  std::set<std::string> sent;
  AddWithDependencies(file, &sent, out);
  return grpc::Status::OK;
}

grpc::Status ExtensionFile(const gp::DescriptorPool& pool, const ExtensionRequest& req,
                           FileDescriptorResponse* out) {
  const gp::Descriptor* type = pool.FindMessageTypeByName(req.containing_type());
  if (type == nullptr) return FileFor(nullptr, "Type", req.containing_type(), out);
  const gp::FieldDescriptor* ext = pool.FindExtensionByNumber(type, req.extension_number());
  if (ext == nullptr) {
    return FileFor(nullptr, "Extension",
                   absl::StrCat(req.containing_type(), " #", req.extension_number()), out);
  }
  return FileFor(ext->file(), "Extension", "", out);
}

}  // namespace

void ReflectionV1Service::SetServices(std::vector<std::string> names) {
  services_ = std::move(names);
  services_set_.Notify();
}

ReflectionV1Service::Response ReflectionV1Service::Answer(const Request& request) {
  const gp::DescriptorPool& pool = *gp::DescriptorPool::generated_pool();
  Response response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  grpc::Status st;
  switch (request.message_request_case()) {
    case Request::kFileByFilename:
      st = FileFor(pool.FindFileByName(request.file_by_filename()), "File",
                   request.file_by_filename(), response.mutable_file_descriptor_response());
      break;
    case Request::kFileContainingSymbol:
      st = FileFor(pool.FindFileContainingSymbol(request.file_containing_symbol()), "Symbol",
                   request.file_containing_symbol(), response.mutable_file_descriptor_response());
      break;
    case Request::kFileContainingExtension:
      st = ExtensionFile(pool, request.file_containing_extension(),
                         response.mutable_file_descriptor_response());
      break;
    case Request::kAllExtensionNumbersOfType: {
      const std::string& name = request.all_extension_numbers_of_type();
      const gp::Descriptor* type = pool.FindMessageTypeByName(name);
      if (type == nullptr) {
        st = {grpc::StatusCode::NOT_FOUND, absl::StrCat("Type not found: ", name)};
        break;
      }
      std::vector<const gp::FieldDescriptor*> extensions;
      pool.FindAllExtensions(type, &extensions);
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const gp::FieldDescriptor* e : extensions) numbers->add_extension_number(e->number());
      break;
    }
    case Request::kListServices:
      services_set_.WaitForNotification();
      for (const std::string& name : services_) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case Request::MESSAGE_REQUEST_NOT_SET:
      // What v1alpha answers too (and a question of a later version would get).
      st = {grpc::StatusCode::UNIMPLEMENTED, "no question asked (message_request not set)"};
      break;
  }
  if (!st.ok()) {
    response.mutable_error_response()->set_error_code(st.error_code());
    response.mutable_error_response()->set_error_message(st.error_message());
  }
  return response;
}

grpc::Status ReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext* /*context*/, grpc::ServerReaderWriter<Response, Request>* stream) {
  Request request;
  while (stream->Read(&request)) {
    if (!stream->Write(Answer(request))) break;  // The client left.
  }
  return grpc::Status::OK;
}

}  // namespace govreport
