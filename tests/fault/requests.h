// Every RPC of every service, driven by reflection: a well-formed base
// request per method (text format with placeholders for the ids of one
// org's resources), sent as raw bytes through a generic stub so that
// malformed bytes can be sent too. Used by the bad-input and the tenant
// isolation scenarios, which must cover every RPC: a method without a base
// request here is reported as uncovered.
#ifndef GOVREPORT_TESTS_FAULT_REQUESTS_H_
#define GOVREPORT_TESTS_FAULT_REQUESTS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/fault/harness.h"

namespace govreport::fault {

// Values substituted for {ORG}, {ACT}, ... in the base requests.
struct Ids {
  std::string org, act, ind, tpl, wf, role, apr, rep, rev, tok, user, user2;
  // The ids of `fixture`'s resources.
  static Ids Of(const OrgFixture& fixture);
  // Ids no resource has, in `org`.
  static Ids Missing(const std::string& org);
  std::map<std::string, std::string> Placeholders() const;
};

struct Method {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  std::string path;      // "/govreport.records.v1.ActivityService/CreateActivity"
  std::string service;   // "records", "templates", "approval", "assembler"
  std::string base;      // Text format with placeholders.
  bool covered = false;  // Has a base request.
  bool mutating = false;
  bool server_streaming = false;
  // The request names only an org (parent, org id): "missing" then means
  // another org rather than another resource of the same org.
  bool org_only = false;
};

// Every method of every govreport service, in a stable order.
std::vector<Method> AllMethods();

// The base request with `ids` substituted (a fresh request_id each call).
// LoadProfile gets the whole strict-governance profile.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(const Method& method,
                                                                        const Ids& ids,
                                                                        const Env& env);

// `text` (text format, no placeholders) as the request of `method`.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> ParseRequest(const Method& method,
                                                                        const std::string& text);

// The method whose path ends in `label` ("ActivityService/CreateActivity").
const Method* FindMethod(const std::vector<Method>& methods, absl::string_view label);

// The channel of the process serving `method` (nullptr when not running).
std::shared_ptr<grpc::Channel> ChannelFor(Cluster& cluster, const Method& method);

struct RawAnswer {
  grpc::Status status;
  std::string response;  // Serialized response message, if any.
};

// Sends `bytes` as the request of `method` (unary or the first message of a
// server stream) with an optional raw authorization header value.
RawAnswer CallRaw(std::shared_ptr<grpc::Channel> channel, const Method& method,
                  const std::string& bytes, const std::string& authorization,
                  absl::Duration deadline);

// "Bearer <token>".
std::string Bearer(const std::string& token);

}  // namespace govreport::fault

#endif  // GOVREPORT_TESTS_FAULT_REQUESTS_H_
