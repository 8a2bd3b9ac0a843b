#include "common/enums.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace govreport {
namespace {

namespace gp = ::google::protobuf;

std::string PrefixOf(absl::string_view enum_name) {
  std::string out;
  for (char c : enum_name) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out.push_back('_');
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  out.push_back('_');
  return out;
}

absl::string_view StripPrefix(absl::string_view name, absl::string_view prefix) {
  return absl::StartsWith(name, prefix) && name.size() > prefix.size() ? name.substr(prefix.size())
                                                                       : name;
}

// Adds to every top-level enum of `file` its short names as aliases, where
// the short name is free in the package scope (enum values are siblings of
// the enums and messages there) and no other enum of the file claims it.
void AddShortAliases(gp::FileDescriptorProto& file) {
  if (!absl::StartsWith(file.package(), "govreport.")) return;
  std::set<std::string> taken;
  for (const auto& m : file.message_type()) taken.insert(m.name());
  for (const auto& s : file.service()) taken.insert(s.name());
  std::map<std::string, int> claims;
  for (const auto& e : file.enum_type()) {
    taken.insert(e.name());
    std::string prefix = PrefixOf(e.name());
    for (const auto& v : e.value()) {
      taken.insert(v.name());
      absl::string_view short_name = StripPrefix(v.name(), prefix);
      if (short_name != v.name()) ++claims[std::string(short_name)];
    }
  }
  for (auto& e : *file.mutable_enum_type()) {
    std::string prefix = PrefixOf(e.name());
    int n = e.value_size();
    for (int i = 0; i < n; ++i) {
      std::string short_name(StripPrefix(e.value(i).name(), prefix));
      if (short_name == e.value(i).name() || claims[short_name] != 1 || taken.count(short_name)) {
        continue;
      }
      gp::EnumValueDescriptorProto alias;
      alias.set_name(short_name);
      alias.set_number(e.value(i).number());
      *e.add_value() = std::move(alias);
      e.mutable_options()->set_allow_alias(true);
    }
  }
}

// A copy of the generated descriptors whose enums also know their short
// names: a file is parsed into a message of this pool, which is then
// serialized and parsed into the generated message (same numbers).
class ShortNamePool {
 public:
  static ShortNamePool& Get() {
    static auto* pool = new ShortNamePool();
    return *pool;
  }

  // A new message of this pool's copy of `type`; nullptr if it does not build.
  std::unique_ptr<gp::Message> New(const gp::Descriptor* type) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Copy(type->file()) == nullptr) return nullptr;
    const gp::Descriptor* copy = pool_.FindMessageTypeByName(type->full_name());
    if (copy == nullptr) return nullptr;
    return std::unique_ptr<gp::Message>(factory_.GetPrototype(copy)->New());
  }

 private:
  const gp::FileDescriptor* Copy(const gp::FileDescriptor* file) {
    if (const auto* done = pool_.FindFileByName(file->name())) return done;
    for (int i = 0; i < file->dependency_count(); ++i) {
      if (Copy(file->dependency(i)) == nullptr) return nullptr;
    }
    gp::FileDescriptorProto proto;
    file->CopyTo(&proto);
    AddShortAliases(proto);
    return pool_.BuildFile(proto);
  }

  std::mutex mu_;
  gp::DescriptorPool pool_;
  gp::DynamicMessageFactory factory_{&pool_};
};

// Keeps the first error of the text format parser, with its position.
class FirstError : public gp::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (text_.empty())
      text_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

absl::Status ParseCopy(absl::string_view text, FileSyntax syntax, gp::Message* copy) {
  if (syntax == FileSyntax::kJson) {
    auto st = gp::util::JsonStringToMessage(gp::StringPiece(text.data(), text.size()), copy);
    if (st.ok()) return absl::OkStatus();
    return absl::InvalidArgumentError(st.message().as_string());
  }
  gp::TextFormat::Parser parser;
  FirstError error;
  parser.RecordErrorsTo(&error);
  if (parser.ParseFromString(std::string(text), copy)) return absl::OkStatus();
  return absl::InvalidArgumentError(error.text());
}

}  // namespace

absl::Status CheckEnumValue(absl::string_view field, const gp::EnumDescriptor* type, int value,
                            Unspecified unspecified) {
  bool zero_ok = unspecified == Unspecified::kAllowed;
  if (type->FindValueByNumber(value) != nullptr && (value != 0 || zero_ok)) {
    return absl::OkStatus();
  }
  std::string names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    absl::StrAppend(&names, names.empty() ? "" : ", ", type->value(i)->name());
  }
  if (value == 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be set, one of ", names));
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", type->name(), " has no value ", value,
                                                 "; one of ", names, zero_ok ? " (or unset)" : ""));
}

std::string EnumValuePrefix(const gp::EnumDescriptor* type) { return PrefixOf(type->name()); }

absl::string_view ShortEnumName(const gp::EnumValueDescriptor* value) {
  return StripPrefix(value->name(), EnumValuePrefix(value->type()));
}

const gp::EnumValueDescriptor* FindEnumValue(const gp::EnumDescriptor* type,
                                             absl::string_view name) {
  if (const auto* v = type->FindValueByName(std::string(name))) return v;
  return type->FindValueByName(absl::StrCat(EnumValuePrefix(type), name));
}

absl::Status ParseHumanWritten(absl::string_view text, FileSyntax syntax, gp::Message* message) {
  std::unique_ptr<gp::Message> copy = ShortNamePool::Get().New(message->GetDescriptor());
  if (copy == nullptr) {
    return absl::InternalError(absl::StrCat("no short enum names for ", message->GetTypeName()));
  }
  if (absl::Status st = ParseCopy(text, syntax, copy.get()); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(st.message(),
                     " (an enum value is written by its name, short or in full: COUNT or "
                     "MEASURE_KIND_COUNT)"));
  }
  message->Clear();
  if (!message->ParseFromString(copy->SerializeAsString())) {
    return absl::InternalError(absl::StrCat("cannot convert a parsed ", message->GetTypeName()));
  }
  return absl::OkStatus();
}

}  // namespace govreport
