#include "templates/docx/zip_writer.h"

#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// A zip_source of one DeflatedEntry: its stat names the data deflated, with
// size and CRC, which makes zip_close copy it as it is (zip_source_function(3):
// "If the data is compressed, ZIP_STAT_COMP_METHOD, ZIP_STAT_SIZE, and
// ZIP_STAT_CRC must be filled in").
struct DeflatedSource {
  const DeflatedEntry* entry = nullptr;
  size_t offset = 0;
  zip_error_t error{};
};

zip_int64_t ReadDeflated(void* userdata, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* source = static_cast<DeflatedSource*>(userdata);
  switch (cmd) {
    case ZIP_SOURCE_OPEN:
      source->offset = 0;
      return 0;
    case ZIP_SOURCE_READ: {
      const std::string& bytes = source->entry->deflated;
      const size_t n = std::min<size_t>(len, bytes.size() - source->offset);
      std::memcpy(data, bytes.data() + source->offset, n);
      source->offset += n;
      return static_cast<zip_int64_t>(n);
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
      return 0;
    case ZIP_SOURCE_STAT: {
      auto* stat = static_cast<zip_stat_t*>(data);
      zip_stat_init(stat);
      stat->size = source->entry->size;
      stat->comp_size = source->entry->deflated.size();
      stat->comp_method = ZIP_CM_DEFLATE;
      stat->crc = source->entry->crc;
      stat->encryption_method = ZIP_EM_NONE;
      stat->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC |
                    ZIP_STAT_ENCRYPTION_METHOD;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR:
      return zip_error_to_data(&source->error, data, len);
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                            ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default:
      zip_error_set(&source->error, ZIP_ER_OPNOTSUPP, 0);
      return -1;
  }
}

struct DeflateEnd {
  void operator()(z_stream* stream) const {
    deflateEnd(stream);
    delete stream;
  }
};

// This thread's deflate state at `level`.
absl::StatusOr<z_stream*> ThreadDeflater(int level) {
  thread_local std::unique_ptr<z_stream, DeflateEnd> stream;
  thread_local int stream_level = 0;
  if (stream != nullptr && stream_level == level) {
    if (deflateReset(stream.get()) != Z_OK) {
      stream.reset();
      return absl::InternalError("zlib: deflateReset failed");
    }
    return stream.get();
  }
  stream.reset();
  auto fresh = std::make_unique<z_stream>();
  // Raw deflate (negative window bits), as zip entries carry it; the
  // largest window and zlib's default memory level.
  if (deflateInit2(fresh.get(), level, Z_DEFLATED, -MAX_WBITS, /*memLevel=*/8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError(absl::StrCat("zlib: deflateInit2 at level ", level, " failed"));
  }
  stream.reset(fresh.release());
  stream_level = level;
  return stream.get();
}

}  // namespace

absl::StatusOr<DeflatedEntry> Deflate(std::string name, std::string_view data, int level) {
  if (data.size() > std::numeric_limits<uInt>::max()) {
    return absl::InternalError(absl::StrCat(name, ": ", data.size(), " bytes is too large"));
  }
  absl::StatusOr<z_stream*> stream = ThreadDeflater(level);
  if (!stream.ok()) return stream.status();
  z_stream* z = *stream;
  DeflatedEntry out{std::move(name), {}, 0, data.size()};
  out.deflated.resize(deflateBound(z, static_cast<uLong>(data.size())));
  // zlib does not write through next_in; its API predates const.
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z->avail_in = static_cast<uInt>(data.size());
  z->next_out = reinterpret_cast<Bytef*>(out.deflated.data());
  z->avail_out = static_cast<uInt>(out.deflated.size());
  const int result = deflate(z, Z_FINISH);
  if (result != Z_STREAM_END) {
    return absl::InternalError(absl::StrCat("zlib: deflate of ", out.name, " returned ", result));
  }
  out.deflated.resize(z->total_out);
  out.crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  return out;
}

DosTimestamp DosTimeOf(std::chrono::sys_seconds t) {
  using namespace std::chrono;
  constexpr sys_seconds kFirst{sys_days{year{1980} / 1 / 1}};
  constexpr sys_seconds kLast{sys_days{year{2107} / 12 / 31} + hours{23} + minutes{59} +
                              seconds{58}};
  t = std::clamp(t, kFirst, kLast);
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  const auto y = static_cast<unsigned>(static_cast<int>(ymd.year()) - 1980);
  return {static_cast<uint16_t>(hms.hours().count() << 11 | hms.minutes().count() << 5 |
                                hms.seconds().count() / 2),
          static_cast<uint16_t>(y << 9 | static_cast<unsigned>(ymd.month()) << 5 |
                                static_cast<unsigned>(ymd.day()))};
}

absl::StatusOr<std::string> ZipDeflated(std::span<const DeflatedEntry* const> entries,
                                        DosTimestamp mtime) {
  // Sources live until zip_close has read them; the vector never grows.
  std::vector<DeflatedSource> sources(entries.size());
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

  for (size_t k = 0; k < entries.size(); ++k) {
    const DeflatedEntry& entry = *entries[k];
    sources[k].entry = &entry;
    zip_error_init(&sources[k].error);
    zip_source_t* data = zip_source_function(archive.get(), ReadDeflated, &sources[k]);
    if (data == nullptr) return ArchiveError(archive.get(), entry.name);
    const zip_int64_t index = zip_file_add(archive.get(), entry.name.c_str(), data, 0);
    if (index < 0) {
      zip_source_free(data);  // not taken over by the archive on failure
      return ArchiveError(archive.get(), entry.name);
    }
    // The DOS fields are set directly: zip_file_set_mtime would convert a
    // time_t with localtime(), making the bytes depend on the server's TZ.
    if (zip_file_set_dostime(archive.get(), static_cast<zip_uint64_t>(index), mtime.time,
                             mtime.date, 0) < 0) {
      return ArchiveError(archive.get(), entry.name);
    }
  }
  const absl::Status closed =
      zip_close(archive.get()) < 0 ? ArchiveError(archive.get(), "zip_close") : absl::OkStatus();
  for (DeflatedSource& source : sources) zip_error_fini(&source.error);
  if (!closed.ok()) return closed;       // ~ZipPtr discards the archive
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
