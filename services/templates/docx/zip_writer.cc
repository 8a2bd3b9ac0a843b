#include "templates/docx/zip_writer.h"

#include <zip.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace govreport::docx::internal {
namespace {

// zip_source_t is reference counted; zip_source_free drops one reference.
struct ZipSourceUnref {
  void operator()(zip_source_t* source) const { zip_source_free(source); }
};
using ZipSourcePtr = std::unique_ptr<zip_source_t, ZipSourceUnref>;

// An archive that was not closed successfully is thrown away unwritten.
struct ZipDiscard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;

class ZipError {
 public:
  ZipError() { zip_error_init(&error_); }
  ~ZipError() { zip_error_fini(&error_); }
  ZipError(const ZipError&) = delete;
  ZipError& operator=(const ZipError&) = delete;

  zip_error_t* get() { return &error_; }
  std::string message() { return zip_error_strerror(&error_); }

 private:
  zip_error_t error_;
};

absl::Status ArchiveError(zip_t* archive, absl::string_view what) {
  return absl::InternalError(absl::StrCat("libzip: ", what, ": ", zip_strerror(archive)));
}

absl::Status SourceError(zip_source_t* source, absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("libzip: ", what, ": ", zip_error_strerror(zip_source_error(source))));
}

}  // namespace

absl::StatusOr<std::string> ZipInMemory(std::span<const ZipEntry> entries, DosTimestamp mtime) {
  ZipError error;
  ZipSourcePtr buffer(zip_source_buffer_create(nullptr, 0, 0, error.get()));
  if (buffer == nullptr) {
    return absl::InternalError(absl::StrCat("libzip: zip_source_buffer_create: ", error.message()));
  }
  // An open archive owns a reference to its source and zip_close drops it;
  // take an extra one so the written bytes outlive the archive.
  zip_source_keep(buffer.get());
  ZipPtr archive(zip_open_from_source(buffer.get(), ZIP_CREATE | ZIP_TRUNCATE, error.get()));
  if (archive == nullptr) {
    zip_source_free(buffer.get());  // the open did not take the extra reference
    return absl::InternalError(absl::StrCat("libzip: zip_open_from_source: ", error.message()));
  }

  for (const ZipEntry& entry : entries) {
    // The data is only read in zip_close, and `entries` outlives it.
    zip_source_t* data =
        zip_source_buffer(archive.get(), entry.data.data(), entry.data.size(), /*freep=*/0);
    if (data == nullptr) return ArchiveError(archive.get(), entry.name);
    const zip_int64_t index = zip_file_add(archive.get(), entry.name.c_str(), data, 0);
    if (index < 0) {
      zip_source_free(data);  // not taken over by the archive on failure
      return ArchiveError(archive.get(), entry.name);
    }
    const auto i = static_cast<zip_uint64_t>(index);
    // Fixed method and level so the deflate stream depends only on the data.
    // The DOS fields are set directly: zip_file_set_mtime would convert a
    // time_t with localtime(), making the bytes depend on the server's TZ.
    if (zip_set_file_compression(archive.get(), i, ZIP_CM_DEFLATE, 9) < 0 ||
        zip_file_set_dostime(archive.get(), i, mtime.time, mtime.date, 0) < 0) {
      return ArchiveError(archive.get(), entry.name);
    }
  }
  if (zip_close(archive.get()) < 0) {
    return ArchiveError(archive.get(), "zip_close");  // ~ZipPtr discards it
  }
  static_cast<void>(archive.release());  // zip_close freed it

  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_source_stat(buffer.get(), &stat) < 0) {
    return SourceError(buffer.get(), "zip_source_stat");
  }
  if ((stat.valid & ZIP_STAT_SIZE) == 0) {
    return absl::InternalError("libzip: archive size unknown");
  }
  if (zip_source_open(buffer.get()) < 0) {
    return SourceError(buffer.get(), "zip_source_open");
  }
  std::string bytes(stat.size, '\0');
  const zip_int64_t read = zip_source_read(buffer.get(), bytes.data(), bytes.size());
  zip_source_close(buffer.get());
  if (read < 0 || static_cast<zip_uint64_t>(read) != stat.size) {
    return SourceError(buffer.get(), "zip_source_read");
  }
  return bytes;
}

}  // namespace govreport::docx::internal
