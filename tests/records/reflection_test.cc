// Server reflection as grpcurl uses it, against the records server
// in-process: v1 (common/reflection_v1.h) and gRPC's own v1alpha list the
// same services and resolve symbols to files that parse.
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/rpc_method.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "internal/grpc/reflection/v1/reflection.grpc.pb.h"
#include "records/grpc_service.h"
#include "redis_server.h"

namespace govreport::records {
namespace {

namespace rpb = ::grpc::reflection::v1;
using Stream =
    grpc::ClientReaderWriter<rpb::ServerReflectionRequest, rpb::ServerReflectionResponse>;

class ReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.ok());
    client_ = std::make_unique<redis::Client>(redis_server_.options());
    authn_ =
        std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::ZeroDuration());
    records_ = std::make_unique<RecordsCore>(client_.get(), RecordsOptions{});
    orgs_ = std::make_unique<OrgGrpc>(records_.get(), authn_.get());
    activities_ = std::make_unique<ActivityGrpc>(records_.get(), authn_.get());
    ServerOptions o;
    o.services = {orgs_.get(), activities_.get()};
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  // A reflection stream of `version` ("v1" or "v1alpha"). The messages of
  // both are the same on the wire, so v1's stand for v1alpha's too (gRPC
  // installs no v1alpha headers).
  std::unique_ptr<Stream> Open(grpc::ClientContext* ctx, const std::string& version) {
    method_name_ =
        absl::StrCat("/grpc.reflection.", version, ".ServerReflection/ServerReflectionInfo");
    grpc::internal::RpcMethod method(method_name_.c_str(),
                                     grpc::internal::RpcMethod::BIDI_STREAMING);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return std::unique_ptr<Stream>(
        grpc::internal::ClientReaderWriterFactory<
            rpb::ServerReflectionRequest, rpb::ServerReflectionResponse>::Create(channel_.get(),
                                                                                 method, ctx));
  }

  // One question on a fresh stream; the stream must end OK.
  rpb::ServerReflectionResponse Ask(const std::string& version,
                                    const rpb::ServerReflectionRequest& req) {
    grpc::ClientContext ctx;
    auto stream = Open(&ctx, version);
    rpb::ServerReflectionResponse resp;
    EXPECT_TRUE(stream->Write(req));
    EXPECT_TRUE(stream->Read(&resp)) << version;
    stream->WritesDone();
    grpc::Status st = stream->Finish();
    EXPECT_TRUE(st.ok()) << version << ": " << st.error_message();
    return resp;
  }

  std::set<std::string> Services(const std::string& version) {
    rpb::ServerReflectionRequest req;
    req.set_list_services("*");
    rpb::ServerReflectionResponse resp = Ask(version, req);
    std::set<std::string> names;
    for (const auto& s : resp.list_services_response().service()) names.insert(s.name());
    return names;
  }

  testing::RedisServer redis_server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<RecordsCore> records_;
  std::unique_ptr<OrgGrpc> orgs_;
  std::unique_ptr<ActivityGrpc> activities_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string method_name_;
};

TEST_F(ReflectionTest, V1AndV1alphaListTheSameServices) {
  std::set<std::string> v1 = Services("v1");
  std::set<std::string> v1alpha = Services("v1alpha");
  EXPECT_EQ(v1, v1alpha);
  for (const char* name :
       {"govreport.records.v1.OrgService", "govreport.records.v1.ActivityService",
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_TRUE(v1.count(name)) << name;
  }
}

// grpcurl's first steps: the file of a symbol, with everything it imports,
// as FileDescriptorProtos that parse and declare the service.
TEST_F(ReflectionTest, ASymbolResolvesToItsFileAndImports) {
  struct Case {
    const char* symbol;
    const char* package;
    const char* service;
  };
  const Case cases[] = {
      {"govreport.records.v1.ActivityService", "govreport.records.v1", "ActivityService"},
      {"govreport.records.v1.ActivityService.GetActivity", "govreport.records.v1",
       "ActivityService"},
      {"govreport.records.v1.ActivityRecord", "govreport.records.v1", "ActivityService"}};
  for (const char* version : {"v1", "v1alpha"}) {
    for (const Case& c : cases) {
      rpb::ServerReflectionRequest req;
      req.set_host("localhost");
      req.set_file_containing_symbol(c.symbol);
      rpb::ServerReflectionResponse resp = Ask(version, req);
      ASSERT_TRUE(resp.has_file_descriptor_response())
          << version << " " << c.symbol << ": " << resp.error_response().error_message();
      EXPECT_EQ(resp.original_request().file_containing_symbol(), c.symbol);
      const auto& files = resp.file_descriptor_response().file_descriptor_proto();
      ASSERT_GE(files.size(), 1);
      std::vector<google::protobuf::FileDescriptorProto> parsed(files.size());
      std::set<std::string> sent;
      for (int i = 0; i < files.size(); ++i) {
        ASSERT_TRUE(parsed[i].ParseFromString(files[i])) << version << " " << c.symbol;
        sent.insert(parsed[i].name());
      }
      EXPECT_EQ(parsed[0].package(), c.package);
      bool declares = false;
      for (const auto& s : parsed[0].service()) declares |= s.name() == c.service;
      EXPECT_TRUE(declares) << version << " " << c.symbol << ": " << parsed[0].name();
      // Every import comes along: a client can build the descriptors.
      for (const auto& p : parsed) {
        for (const std::string& dep : p.dependency()) {
          EXPECT_TRUE(sent.count(dep)) << version << " " << c.symbol << ": " << dep;
        }
      }
    }
  }
}

TEST_F(ReflectionTest, UnknownSymbolsAndFilesAreNotFoundAndTheStreamGoesOn) {
  for (const char* version : {"v1", "v1alpha"}) {
    grpc::ClientContext ctx;
    auto stream = Open(&ctx, version);
    rpb::ServerReflectionRequest req;
    rpb::ServerReflectionResponse resp;
    req.set_file_containing_symbol("govreport.records.v1.NoSuchService");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND) << version;
    req.set_file_by_filename("no/such/file.proto");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND) << version;
    req.set_all_extension_numbers_of_type("govreport.records.v1.NoSuchMessage");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND) << version;
    req.mutable_file_containing_extension()->set_containing_type(
        "govreport.records.v1.ActivityRecord");
    req.mutable_file_containing_extension()->set_extension_number(4242);
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND) << version;
    // The same stream still answers.
    req.set_file_by_filename("govreport/records/v1/records.proto");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_TRUE(resp.has_file_descriptor_response())
        << version << ": " << resp.error_response().error_message();
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
}

TEST_F(ReflectionTest, ExtensionNumbersOfAKnownTypeAnswer) {
  rpb::ServerReflectionRequest req;
  req.set_all_extension_numbers_of_type("google.protobuf.MethodOptions");
  rpb::ServerReflectionResponse resp = Ask("v1", req);
  ASSERT_TRUE(resp.has_all_extension_numbers_response()) << resp.error_response().error_message();
  EXPECT_EQ(resp.all_extension_numbers_response().base_type_name(),
            "google.protobuf.MethodOptions");
}

}  // namespace
}  // namespace govreport::records
