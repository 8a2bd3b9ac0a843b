#include "templates/layout/layout.h"

#include <pango/pangocairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/png.h"
#include "templates/docx/docx_writer.h"
#include "templates/docx/page_layout.h"
#include "templates/layout/fonts.h"

namespace govreport::layout {
namespace {

namespace L = ::govreport::docx::layout;
using docx::ClassifiedLine;
using docx::LineKind;

constexpr double Pt(double twips) { return twips / L::kTwipsPerPoint; }

constexpr double kPitch = Pt(L::kLinePitch);             // 28.95 pt: 22 lines in 225 mm
constexpr double kBodyPt = L::kBodyFontPt;               // 3号
constexpr double kCharPt = Pt(L::kCharPitch);            // one grid character, 15.8 pt
constexpr double kCondensed = Pt(L::kCondensedSpacing);  // −0.25 pt: 28 characters a line
// Half the em box above the baseline: an ideographic em box runs from 0.88 em
// above the baseline to 0.12 em below, so its middle is 0.38 em up. Lines are
// set with that middle on the middle of their line box, whatever the face.
constexpr double kEmMiddle = 0.38;

// The type area of a portrait or a landscape page, in points.
struct Area {
  double page_width, page_height, left, top, width, height;
};
constexpr Area kPortrait{Pt(L::kPageWidth), Pt(L::kPageHeight), Pt(L::kMarginLeft),
                         Pt(L::kMarginTop), Pt(L::kTextWidth),  Pt(L::kTextHeight)};
constexpr Area kLandscape{Pt(L::kPageHeight),          Pt(L::kPageWidth),
                          Pt(L::kLandscapeMarginLeft), Pt(L::kLandscapeMarginTop),
                          Pt(L::kLandscapeTextWidth),  Pt(L::kTextWidth)};

struct ObjectUnref {
  void operator()(void* o) const { g_object_unref(o); }
};

// What the paginator moves as a whole: one line of a paragraph, a table row,
// a spacer, the 版记. Coordinates are relative to the item's top left corner
// in the type area.
struct Item {
  double height = 0;
  std::vector<PlacedLine> lines;
  std::vector<Rule> rules;
  std::vector<OutlineEntry> outline;
  std::vector<PlacedImage> images;
  bool keep_with_next = false;     // no page break between this and the next item
  bool page_break_before = false;  // 另面编排
  bool landscape = false;          // a table too wide for the portrait page
  bool at_bottom = false;          // on the bottom edge of the type area (版记)
  bool unnumbered = false;         // its page has no page number
  bool even_page = false;          // starts on an even page, a blank one before if need be
  int header = -1;                 // a table row: its header row's item, repeated on a new page
};

// Runs of another face within a paragraph (a heading's run-in body text).
struct Span {
  size_t begin = 0, end = 0;
  Face face = Face::kFangSong;
  bool bold = false;
};

enum class Align { kJustify, kLeft, kCenter, kRight };

struct Style {
  Face face = Face::kFangSong;
  bool bold = false;
  double size = kBodyPt;
  double spacing = kCondensed;  // letter spacing, points
  // Indents from the type area's edges: the first line's, the further
  // lines', and the right one.
  double first = 2 * kCharPt, rest = 0, right = 0;
  Align align = Align::kJustify;
  double line_height = kPitch;
  uint32_t rgb = kBlack;
};

Style Body() { return {}; }
Style Flush() {
  Style s;
  s.first = 0;
  return s;
}

class Shaper {
 public:
  explicit Shaper(const FontMap& fonts) : fonts_(fonts) {}

  // `text` from byte `offset` on, laid out `width` points wide.
  // `length` bytes of it at most; `justify_all`: the last line justified too.
  std::shared_ptr<PangoLayout> Layout(std::string_view text, size_t offset,
                                      const std::vector<Span>& spans, const Style& style,
                                      double width, size_t length = std::string_view::npos,
                                      bool justify_all = false) const {
    PangoLayout* layout = pango_layout_new(internal::ThreadContext());
    const std::string_view part = text.substr(offset, length);
    pango_layout_set_text(layout, part.data(), static_cast<int>(part.size()));
    PangoFontDescription* desc =
        internal::NewFontDescription(fonts_, style.face, style.size, style.bold);
    pango_layout_set_font_description(layout, desc);
    pango_font_description_free(desc);
    PangoAttrList* attrs = pango_attr_list_new();
    if (style.spacing != 0) {
      pango_attr_list_insert(attrs, pango_attr_letter_spacing_new(static_cast<int>(
                                        std::lround(style.spacing * PANGO_SCALE))));
    }
    for (const Span& span : spans) {
      const size_t begin = std::max(span.begin, offset) - offset;
      const size_t end = std::max(span.end, offset) - offset;
      if (begin >= end) continue;
      PangoFontDescription* d =
          internal::NewFontDescription(fonts_, span.face, style.size, span.bold);
      PangoAttribute* a = pango_attr_font_desc_new(d);
      pango_font_description_free(d);
      a->start_index = static_cast<guint>(begin);
      a->end_index = static_cast<guint>(end);
      pango_attr_list_insert(attrs, a);
    }
    pango_layout_set_attributes(layout, attrs);
    pango_attr_list_unref(attrs);
    pango_layout_set_width(layout, static_cast<int>(std::lround(width * PANGO_SCALE)));
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_justify(layout, style.align == Align::kJustify ? TRUE : FALSE);
    if (justify_all) pango_layout_set_justify_last_line(layout, TRUE);
    return {layout, ObjectUnref()};
  }

  // One line, not wrapped, at x 0 and baseline 0; `width` gets its advance.
  PlacedLine Single(std::string_view text, Face face, double size, double spacing, uint32_t rgb,
                    double* width, bool bold = false) const {
    Style style;
    style.face = face;
    style.size = size;
    style.spacing = spacing;
    style.bold = bold;
    style.align = Align::kLeft;
    PlacedLine line{Layout(text, 0, {}, style, -1.0 / PANGO_SCALE), 0, 0, 0, rgb};
    *width = LineWidth(line);
    return line;
  }

  static double LineWidth(const PlacedLine& line) {
    PangoRectangle logical;
    pango_layout_line_get_extents(line.Line(), nullptr, &logical);
    return static_cast<double>(logical.width) / PANGO_SCALE;
  }

  // The lines of a paragraph in a column `width` points wide; x from the
  // column's left edge, each baseline within its own line box (so 0 is the
  // top of the line's box). The first line is broken at its own width (an
  // indent, a hanging indent), the rest at theirs.
  std::vector<PlacedLine> Break(std::string_view text, const std::vector<Span>& spans,
                                const Style& style, double width) const {
    if (style.align == Align::kJustify) {
      std::vector<Span> moved = spans;
      const std::string opened = WithQuoteBreaks(text, &moved);
      return BreakHanging(opened, moved, style, width);
    }
    std::vector<PlacedLine> out;
    const double first_width = width - style.first - style.right;
    const double rest_width = width - style.rest - style.right;
    std::shared_ptr<PangoLayout> first = Layout(text, 0, spans, style, first_width);
    const int count = pango_layout_get_line_count(first.get());
    if (count <= 1 || first_width == rest_width) {
      for (int i = 0; i < count; ++i) out.push_back({first, i, i == 0 ? style.first : style.rest});
    } else {
      const auto taken =
          static_cast<size_t>(pango_layout_get_line_readonly(first.get(), 0)->length);
      out.push_back({first, 0, style.first});
      std::shared_ptr<PangoLayout> rest = Layout(text, taken, spans, style, rest_width);
      for (int i = 0; i < pango_layout_get_line_count(rest.get()); ++i) {
        out.push_back({rest, i, style.rest});
      }
    }
    for (size_t i = 0; i < out.size(); ++i) {
      PlacedLine& line = out[i];
      line.rgb = style.rgb;
      line.baseline = style.line_height / 2 + kEmMiddle * style.size;
      const double avail = width - (i == 0 ? style.first : style.rest) - style.right;
      const double slack = avail - LineWidth(line);
      if (style.align == Align::kCenter) line.x += slack / 2;
      if (style.align == Align::kRight) line.x += slack;
    }
    return out;
  }

  const FontMap& fonts() const { return fonts_; }

 private:
  // Justified text, broken as Word and WPS (which compress it) and
  // LibreOffice (which hangs it) do: closing punctuation that would not fit
  // stays at the end of its line, up to one character into the margin,
  // instead of taking the character before it down to the next line. Each
  // line is then laid out alone, justified to the column unless it hangs
  // (it is full then) or ends the paragraph.
  std::vector<PlacedLine> BreakHanging(std::string_view text, const std::vector<Span>& spans,
                                       const Style& style, double width) const {
    std::vector<PlacedLine> out;
    const double hang = style.size + style.spacing;
    // Enough text for most lines (28 characters of 3 bytes and a few to
    // spare), so that each step shapes a window of the paragraph, not all
    // the rest of it; a window that fits on one line is widened.
    constexpr size_t kWindow = 120;
    size_t offset = 0;
    while (offset < text.size() || out.empty()) {
      const bool first = out.empty();
      const double indent = first ? style.first : style.rest;
      const double avail = width - indent - style.right;
      size_t window = 0;
      std::shared_ptr<PangoLayout> wide;
      const PangoLayoutLine* line = nullptr;
      for (size_t want = kWindow;; want *= 2) {
        window = std::min(want, text.size() - offset);
        while (offset + window < text.size() && (text[offset + window] & 0xC0) == 0x80) ++window;
        wide = Layout(text, offset, spans, style, avail + hang, window);
        line = pango_layout_get_line_readonly(wide.get(), 0);
        if (offset + window >= text.size() || pango_layout_get_line_count(wide.get()) > 1) break;
      }
      auto taken = static_cast<size_t>(line->length);
      PangoRectangle logical;
      pango_layout_line_get_extents(const_cast<PangoLayoutLine*>(line), nullptr, &logical);
      const double natural = static_cast<double>(logical.width) / PANGO_SCALE;
      bool hangs = false;
      if (natural > avail + kFit) {
        hangs = EndsWithClosingPunctuation(text.substr(offset, taken)) &&
                natural - hang <= avail + kFit;
        if (!hangs) {
          const std::shared_ptr<PangoLayout> narrow =
              Layout(text, offset, spans, style, avail, window);
          taken = static_cast<size_t>(pango_layout_get_line_readonly(narrow.get(), 0)->length);
        }
      }
      if (taken == 0) taken = text.size() - offset;  // nothing fits: all of it
      const bool last = offset + taken >= text.size();
      Style own = style;
      if (hangs || last) own.align = Align::kLeft;
      PlacedLine placed{Layout(text, offset, spans, own, hangs || last ? -1.0 / PANGO_SCALE : avail,
                               taken, /*justify_all=*/!hangs && !last),
                        0, indent};
      placed.rgb = style.rgb;
      placed.baseline = style.line_height / 2 + kEmMiddle * style.size;
      out.push_back(std::move(placed));
      offset += taken;
      if (text.empty()) break;
    }
    return out;
  }

  // Unicode line breaking gives “ ” ‘ ’ the class QU, with no break on
  // either side; in Chinese text “ opens like （ and ” closes like ）, as
  // Word and LibreOffice break them. A zero-width space (class ZW, a break
  // after it) before each opening quote and after each closing one not
  // followed by punctuation makes those breaks allowed. `spans` are moved
  // along.
  static std::string WithQuoteBreaks(std::string_view text, std::vector<Span>* spans) {
    constexpr std::string_view kZwsp = "\u200B";
    std::vector<size_t> at;  // offsets in `text` where a ZWSP goes
    for (size_t pos = 0; pos + 3 <= text.size(); ++pos) {
      const std::string_view c = text.substr(pos, 3);
      if ((c == "“" || c == "‘") && pos > 0) at.push_back(pos);
      if ((c == "”" || c == "’") && pos + 3 < text.size() &&
          !StartsWithPunctuation(text.substr(pos + 3))) {
        at.push_back(pos + 3);
      }
    }
    if (at.empty()) return std::string(text);
    std::string out;
    size_t from = 0;
    for (size_t a : at) {
      out.append(text.substr(from, a - from));
      out.append(kZwsp);
      from = a;
    }
    out.append(text.substr(from));
    auto moved = [&](size_t offset) {
      return offset +
             kZwsp.size() *
                 static_cast<size_t>(std::upper_bound(at.begin(), at.end(), offset) - at.begin());
    };
    for (Span& span : *spans) {
      span.begin = moved(span.begin);
      span.end = moved(span.end);
    }
    return out;
  }

  static bool StartsWithPunctuation(std::string_view text) {
    for (std::string_view p : {"，", "。", "、", "；", "：", "！", "？", "）", "》", "」", "』",
                               "】", "〕", "”", "’", "“", "‘"}) {
      if (text.starts_with(p)) return true;
    }
    return false;
  }

  static bool EndsWithClosingPunctuation(std::string_view line) {
    while (line.ends_with(' ')) line.remove_suffix(1);
    for (std::string_view p :
         {"，", "。", "、", "；", "：", "！", "？", "）", "》", "」", "』", "】", "〕", "”", "’"}) {
      if (line.ends_with(p)) return true;
    }
    return false;
  }

  // Rounding in Pango units.
  static constexpr double kFit = 0.01;

 public:
 private:
  const FontMap& fonts_;
};

double Twips100(int chars100) { return Pt(chars100 * L::kCharPitch / 100.0); }

class Builder {
 public:
  Builder(const std::vector<ClassifiedLine>& lines, const docx::DocumentFrame& frame,
          const FontMap& fonts)
      : lines_(lines), frame_(frame), shaper_(fonts) {
    FindSignature();
  }

  std::vector<Item> Build() {
    if (frame_.HasHeader()) AddHeader();
    for (size_t i = 0; i < lines_.size();) i = AddLine(i);
    if (!frame_.note.empty() && !note_written_) AddParagraph(docx::NoteLine(frame_.note), Body());
    if (frame_.HasImprint()) AddImprint();
    return std::move(items_);
  }

 private:
  void FindSignature() {
    signature_ = lines_.size();
    keep_with_signature_ = lines_.size();
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (lines_[i].kind == LineKind::kIssuer) issuer_ = lines_[i].text;
      if (lines_[i].kind == LineKind::kDate) date_ = lines_[i].text;
      if ((lines_[i].kind == LineKind::kIssuer || lines_[i].kind == LineKind::kDate) &&
          signature_ == lines_.size()) {
        signature_ = i;
      }
    }
    for (size_t i = signature_; signature_ < lines_.size() && i-- > 0;) {
      if (lines_[i].kind != LineKind::kBlank) {
        keep_with_signature_ = i;
        break;
      }
    }
  }

  double Width() const { return landscape_ ? kLandscape.width : kPortrait.width; }

  void Spacer(double height, bool keep = false) {
    if (height <= 0) return;
    Item item;
    item.height = height;
    item.keep_with_next = keep;
    items_.push_back(std::move(item));
  }

  // One item per line, so pages break between lines. `keep`: the last line
  // stays with what follows; `keep_last_two`: so do the two before it
  // (widow control of the paragraph above the signature).
  size_t AddParagraph(std::string_view text, const Style& style,
                      const std::vector<Span>& spans = {}, bool keep = false,
                      bool keep_last_two = false) {
    const size_t first = items_.size();
    for (PlacedLine& line : shaper_.Break(text, spans, style, Width())) {
      Item item;
      item.height = style.line_height;
      item.lines.push_back(std::move(line));
      items_.push_back(std::move(item));
    }
    if (items_.size() > first) {
      if (keep) items_.back().keep_with_next = true;
      if (keep_last_two && items_.size() - first >= 2)
        items_[items_.size() - 2].keep_with_next = true;
    }
    return first;
  }

  void AddOutline(size_t item, std::string_view text, int level) {
    if (item < items_.size()) items_[item].outline.push_back({std::string(text), level, 0});
  }

  // Title (and attachment titles): 2号小标宋 centred, each line two grid
  // lines tall, and one empty line below (标题下空一行).
  void AddTitle(std::string_view text) {
    Style s;
    s.face = Face::kXiaoBiaoSong;
    s.size = L::kTitleFontPt;
    s.spacing = 0;
    s.first = 0;
    s.align = Align::kCenter;
    s.line_height = Pt(L::kTitleLineHeight);
    AddOutline(AddParagraph(text, s, {}, /*keep=*/true), text, 0);
    Spacer(kPitch);
  }

  size_t AddLine(size_t i) {
    const ClassifiedLine& line = lines_[i];
    switch (line.kind) {
      case LineKind::kBlank:
        return i + 1;
      case LineKind::kTitle:
        AddTitle(line.text);
        if (!frame_.main_recipients.empty()) {
          AddParagraph(frame_.main_recipients.ends_with("：")
                           ? frame_.main_recipients
                           : absl::StrCat(frame_.main_recipients, "："),
                       Flush());
        }
        return i + 1;
      case LineKind::kRecipients:
        AddParagraph(line.text, Flush());
        return i + 1;
      case LineKind::kTableHeader: {
        const docx::Table table = docx::ReadTable(lines_, i);
        AddTable(table);
        return table.end;
      }
      case LineKind::kTableRule:
      case LineKind::kTableRow:
        return i + 1;
      case LineKind::kEnclosure:
      case LineKind::kEnclosureItem: {
        if (!in_enclosure_) {
          in_enclosure_ = true;
          Spacer(kPitch);  // 正文下空一行
        }
        const docx::EnclosureIndents at =
            docx::EnclosureIndentChars100(line.text, line.kind == LineKind::kEnclosure);
        Style s;
        s.first = Twips100(at.first_line);
        s.rest = Twips100(at.rest);
        AddParagraph(line.text, s);
        return i + 1;
      }
      case LineKind::kIssuer:
      case LineKind::kDate:
        AddSignatureLine(line);
        return i + 1;
      case LineKind::kNote:
        AddParagraph(line.text, Body());
        note_written_ = true;
        return i + 1;
      case LineKind::kAttachmentMark:
        AddAttachmentMark(line.text);
        return i + 1;
      case LineKind::kAttachmentTitle:
        AddTitle(line.text);
        return i + 1;
      default:
        in_enclosure_ = false;
        AddText(line, i == keep_with_signature_);
        return i + 1;
    }
  }

  // Headings 1–4 and body text.
  void AddText(const ClassifiedLine& line, bool before_signature) {
    Style s = Body();
    std::vector<Span> spans;
    bool keep = before_signature;
    int outline_level = -1;
    if (line.kind >= LineKind::kHeading1 && line.kind <= LineKind::kHeading4) {
      static constexpr Face kFaces[] = {Face::kHeiTi, Face::kKaiTi, Face::kFangSong,
                                        Face::kFangSong};
      const int level = static_cast<int>(line.kind) - static_cast<int>(LineKind::kHeading1);
      s.face = kFaces[level];
      s.bold = line.kind == LineKind::kHeading3;
      const bool run_in = line.heading_size < line.text.size();
      if (run_in) {
        spans.push_back({line.heading_size, line.text.size(), Face::kFangSong, false});
      } else {
        keep = true;  // a heading does not end a page
      }
      if (level == 0) outline_level = 1;
    }
    const size_t first = AddParagraph(line.text, s, spans, keep, before_signature);
    if (outline_level >= 0) {
      AddOutline(first,
                 line.text.substr(0, line.heading_size ? line.heading_size : line.text.size()),
                 outline_level);
    }
  }

  // 署名 centred over the 成文日期, which sits 右空四字; above them an empty
  // line, two with a seal (7.3.5.1); all kept on the page of the text's
  // last lines.
  void AddSignatureLine(const ClassifiedLine& line) {
    if (!signature_opened_) {
      signature_opened_ = true;
      Spacer(kPitch, /*keep=*/true);
      if (frame_.sealed) Spacer(kPitch, /*keep=*/true);
    }
    Style s = Flush();
    s.align = Align::kRight;
    if (line.kind == LineKind::kIssuer) {
      s.right = Twips100(docx::IssuerRightIndentChars100(issuer_, date_));
      AddParagraph(line.text, s, {}, /*keep=*/true);
      return;
    }
    s.right = 4 * kCharPt;
    const size_t date = AddParagraph(line.text, s);
    if (frame_.sealed && !frame_.seal_image.empty() && date < items_.size()) AddSeal(date);
    if (!frame_.note.empty() && !HasNoteLine()) {
      AddParagraph(docx::NoteLine(frame_.note), Body());
      note_written_ = true;
    }
  }

  // The seal centred over the 署名 and 成文日期, which sit a little below
  // its centre, its top within the empty lines above them (7.3.5.1).
  void AddSeal(size_t date_item) {
    Item& item = items_[date_item];
    if (item.lines.empty()) return;
    const PlacedLine& date = item.lines.front();
    absl::StatusOr<png::Info> info = png::Inspect(frame_.seal_image, "frame.seal_image");
    if (!info.ok()) return;  // CheckFrame refused it already
    const double width = Pt(L::kSealWidth);
    const double height = width * info->height / info->width;
    const double centre_x = date.x + Shaper::LineWidth(date) / 2;
    // The line between the 署名 and the date is the top of the date's item.
    const double centre_y = -Pt(L::kSealCentreAboveDate);
    item.images.push_back({centre_x - width / 2, centre_y - height / 2, width, height,
                           std::make_shared<const std::string>(frame_.seal_image)});
  }

  bool HasNoteLine() const {
    return std::any_of(lines_.begin(), lines_.end(),
                       [](const ClassifiedLine& l) { return l.kind == LineKind::kNote; });
  }

  // 另面编排; "附件N" 3号黑体 顶格 (7.3.7). A 附注 of the frame goes first.
  void AddAttachmentMark(std::string_view text) {
    if (!frame_.note.empty() && !note_written_) {
      AddParagraph(docx::NoteLine(frame_.note), Body());
      note_written_ = true;
    }
    Style s = Flush();
    s.face = Face::kHeiTi;
    const size_t first = AddParagraph(text, s, {}, /*keep=*/true);
    items_[first].page_break_before = true;
  }

  // --- 版头 (7.2) ------------------------------------------------------------

  void AddHeader() {
    double used = 0;
    for (const std::string* field : {&frame_.copy_number, &frame_.secrecy, &frame_.urgency}) {
      if (field->empty()) continue;
      Style s = Flush();
      s.face = Face::kHeiTi;  // 顶格, 3号黑体
      const size_t first = AddParagraph(*field, s);
      used += static_cast<double>(items_.size() - first) * kPitch;
    }
    if (!frame_.issuing_mark.empty()) {
      Spacer(Pt(L::kMarkTop) - used);
      const int pt = docx::MarkFontPt(frame_.issuing_mark);
      Style s = Flush();
      s.face = Face::kXiaoBiaoSong;
      s.size = pt;
      s.spacing = 0;
      s.align = Align::kCenter;
      s.line_height = pt;
      s.rgb = kRed;
      AddParagraph(frame_.issuing_mark, s);
      Spacer(2 * kPitch);  // 发文字号 下空二行
    }
    if (frame_.upward && !frame_.signers.empty()) {
      AddSigners();
    } else if (!frame_.document_number.empty()) {
      Style s = Flush();
      s.align = Align::kCenter;
      AddParagraph(frame_.document_number, s);
    }
    // 发文字号之下4 mm, the red line across the type area.
    Item red;
    const double thickness = L::kRedLineSize / 8.0;
    red.height = Pt(L::kRedLineGap) + thickness;
    red.rules.push_back({0, Pt(L::kRedLineGap) + thickness / 2, Width(),
                         Pt(L::kRedLineGap) + thickness / 2, thickness, kRed});
    items_.push_back(std::move(red));
    Spacer(kPitch);  // 标题 in the second line below it
  }

  // 上行文 (7.2.5, 7.2.6): "签发人：" 3号仿宋, the names 3号楷体 two a line,
  // 居右空一字; the 发文字号 居左空一字 on the line of the last names.
  void AddSigners() {
    std::vector<std::string> rows;
    for (size_t i = 0; i < frame_.signers.size(); i += 2) {
      rows.push_back(i + 1 < frame_.signers.size()
                         ? absl::StrCat(frame_.signers[i], "\u3000", frame_.signers[i + 1])
                         : frame_.signers[i]);
    }
    double label_width = 0;
    const PlacedLine label =
        shaper_.Single("签发人：", Face::kFangSong, kBodyPt, kCondensed, kBlack, &label_width);
    std::vector<PlacedLine> names;
    std::vector<double> name_widths(rows.size());
    double widest = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      names.push_back(
          shaper_.Single(rows[r], Face::kKaiTi, kBodyPt, kCondensed, kBlack, &name_widths[r]));
      widest = std::max(widest, name_widths[r]);
    }
    const double start = std::max(0.0, Width() - kCharPt - label_width - widest);
    const double baseline = kPitch / 2 + kEmMiddle * kBodyPt;
    for (size_t r = 0; r < rows.size(); ++r) {
      Item item;
      item.height = kPitch;
      // In reading order: the number on the left first, as the TXT has it.
      if (r + 1 == rows.size() && !frame_.document_number.empty()) {
        double ignored = 0;
        PlacedLine number = shaper_.Single(frame_.document_number, Face::kFangSong, kBodyPt,
                                           kCondensed, kBlack, &ignored);
        number.x = kCharPt;
        number.baseline = baseline;
        item.lines.push_back(std::move(number));
      }
      if (r == 0) {
        PlacedLine l = label;
        l.x = start;
        l.baseline = baseline;
        item.lines.push_back(std::move(l));
      }
      PlacedLine n = names[r];
      n.x = start + label_width;
      n.baseline = baseline;
      item.lines.push_back(std::move(n));
      items_.push_back(std::move(item));
    }
  }

  // --- tables ------------------------------------------------------------------

  // 4号仿宋 in cells of lines exactly 20 pt, the header bold and centred and
  // repeated at the top of every page the table continues on, numbers to the
  // right; a table too wide for 156 mm on landscape pages of its own.
  void AddTable(const docx::Table& table) {
    const bool landscape = docx::NeedsLandscape(table);
    landscape_ = landscape;
    const int width_twips = landscape ? L::kLandscapeTextWidth : L::kTextWidth;
    std::vector<double> widths;
    for (int w : docx::TableColumnWidths(table, width_twips)) widths.push_back(Pt(w));
    const double margin = Pt(L::kTableCellMargin);
    const double line_height = Pt(L::kTableLineHeight);
    int header = -1;
    for (size_t r = 0; r < table.rows.size(); ++r) {
      std::vector<std::vector<PlacedLine>> cells;
      size_t most = 1;
      double x = 0;
      for (size_t c = 0; c < widths.size(); ++c) {
        const std::string& text = table.rows[r][c];
        Style s;
        s.size = L::kTableFontPt;
        s.spacing = 0;
        s.first = 0;
        s.bold = r == 0;
        s.line_height = line_height;
        s.align = Align::kCenter;
        if (r > 0) {
          const docx::CellAlign a = docx::CellAlignment(table, c, text);
          s.align = a == docx::CellAlign::kRight    ? Align::kRight
                    : a == docx::CellAlign::kCenter ? Align::kCenter
                                                    : Align::kLeft;
        }
        std::vector<PlacedLine> lines = text.empty()
                                            ? std::vector<PlacedLine>{}
                                            : shaper_.Break(text, {}, s, widths[c] - 2 * margin);
        for (PlacedLine& l : lines) l.x += x + margin;
        most = std::max(most, lines.size());
        cells.push_back(std::move(lines));
        x += widths[c];
      }
      Item item;
      item.height = static_cast<double>(most) * line_height;
      item.landscape = landscape;
      for (std::vector<PlacedLine>& lines : cells) {
        const double top = (item.height - static_cast<double>(lines.size()) * line_height) / 2;
        for (size_t k = 0; k < lines.size(); ++k) {
          lines[k].baseline += top + static_cast<double>(k) * line_height;
          item.lines.push_back(std::move(lines[k]));
        }
      }
      constexpr double kBorder = 0.5;  // w:sz="4": eighths of a point
      item.rules.push_back({0, 0, x, 0, kBorder, kBlack});
      item.rules.push_back({0, item.height, x, item.height, kBorder, kBlack});
      double edge = 0;
      item.rules.push_back({0, 0, 0, item.height, kBorder, kBlack});
      for (double w : widths) {
        edge += w;
        item.rules.push_back({edge, 0, edge, item.height, kBorder, kBlack});
      }
      if (r == 0) {
        item.keep_with_next = table.rows.size() > 1;
        item.page_break_before = landscape;
        header = static_cast<int>(items_.size());
      } else {
        item.header = header;
      }
      items_.push_back(std::move(item));
    }
    landscape_ = false;
  }

  // --- 版记 (7.4) --------------------------------------------------------------

  // 抄送 and 印发机关/印发日期 in 4号仿宋 between rules across the type area
  // (0.35 mm first and last, 0.25 mm between), one character in from either
  // side, on a last page of its own without a page number, an even one, its
  // last rule on the bottom edge of the type area.
  void AddImprint() {
    const double inset = Pt(L::kImprintIndent);
    const double size = L::kImprintFontPt;
    Item item;
    item.page_break_before = true;
    item.at_bottom = true;
    item.unnumbered = true;
    item.even_page = true;
    std::vector<double> edges = {0};
    double y = 0;
    if (!frame_.copy_to.empty()) {
      std::string text = absl::StrCat("抄送：", frame_.copy_to);
      if (!text.ends_with("。")) text += "。";
      Style s;
      s.size = size;
      s.spacing = 0;
      s.first = inset;
      s.rest = inset + 3 * size;  // under the first name, after 抄送：
      s.right = inset;
      s.align = Align::kLeft;
      std::vector<PlacedLine> lines = shaper_.Break(text, {}, s, Width());
      for (size_t k = 0; k < lines.size(); ++k) {
        lines[k].baseline += y + static_cast<double>(k) * kPitch;
        item.lines.push_back(std::move(lines[k]));
      }
      y += static_cast<double>(std::max<size_t>(1, lines.size())) * kPitch;
      edges.push_back(y);
    }
    if (!frame_.printing_org.empty() || !frame_.printing_date.empty()) {
      const double baseline = y + kPitch / 2 + kEmMiddle * size;
      double w = 0;
      if (!frame_.printing_org.empty()) {
        PlacedLine org = shaper_.Single(frame_.printing_org, Face::kFangSong, size, 0, kBlack, &w);
        org.x = inset;
        org.baseline = baseline;
        item.lines.push_back(std::move(org));
      }
      const std::string date = docx::PrintingDateLine(frame_.printing_date);
      if (!date.empty()) {
        PlacedLine d = shaper_.Single(date, Face::kFangSong, size, 0, kBlack, &w);
        d.x = Width() - inset - w;
        d.baseline = baseline;
        item.lines.push_back(std::move(d));
      }
      y += kPitch;
      edges.push_back(y);
    }
    const double thick = L::kImprintThickLine / 8.0;
    const double thin = L::kImprintThinLine / 8.0;
    for (size_t e = 0; e < edges.size(); ++e) {
      const bool outer = e == 0 || e + 1 == edges.size();
      const double t = outer ? thick : thin;
      // The outer rules lie inside the block, so the last one ends on the
      // type area's bottom edge.
      const double at = e == 0 ? edges[e] + t / 2 : edges[e] - (outer ? t / 2 : 0);
      item.rules.push_back({0, at, Width(), at, t, kBlack});
    }
    item.height = y;
    items_.push_back(std::move(item));
  }

  const std::vector<ClassifiedLine>& lines_;
  const docx::DocumentFrame& frame_;
  Shaper shaper_;
  std::vector<Item> items_;
  std::string_view issuer_, date_;
  size_t signature_ = 0, keep_with_signature_ = 0;
  bool landscape_ = false;
  bool signature_opened_ = false;
  bool in_enclosure_ = false;
  bool note_written_ = false;
};

// Rounding in the sums of line heights must not push the 22nd line over.
constexpr double kSlack = 0.01;

class Paginator {
 public:
  explicit Paginator(std::vector<Item>& items) : items_(items) {}

  std::vector<Page> Run() {
    for (size_t i = 0; i < items_.size(); ++i) {
      const Item& item = items_[i];
      bool fresh = pages_.empty() || item.page_break_before || item.landscape != landscape_;
      if (!fresh && cursor_ > 0) {
        fresh = cursor_ + item.height > area_.height + kSlack ||
                (cursor_ + ChainHeight(i) > area_.height + kSlack &&
                 ChainHeight(i) <= area_.height + kSlack);
      }
      if (fresh) {
        // The 版记 is on the document's last side, the back of a sheet
        // (7.4.1): a blank page, without a number (7.5), fills an odd one.
        if (item.even_page && pages_.size() % 2 == 0) {
          NewPage(false);
          pages_.back().numbered = false;
        }
        NewPage(item.landscape);
        if (item.header >= 0) Place(items_[static_cast<size_t>(item.header)]);
      }
      Place(item);
    }
    return std::move(pages_);
  }

 private:
  // The item and those it is kept with, as long as nothing forces a break.
  double ChainHeight(size_t i) const {
    double height = items_[i].height;
    for (size_t j = i; j + 1 < items_.size() && items_[j].keep_with_next; ++j) {
      const Item& next = items_[j + 1];
      if (next.page_break_before || next.landscape != items_[i].landscape) break;
      height += next.height;
    }
    return height;
  }

  void NewPage(bool landscape) {
    landscape_ = landscape;
    area_ = landscape ? kLandscape : kPortrait;
    Page page;
    page.width = area_.page_width;
    page.height = area_.page_height;
    page.number = static_cast<int>(pages_.size()) + 1;
    pages_.push_back(std::move(page));
    cursor_ = 0;
  }

  void Place(const Item& item) {
    Page& page = pages_.back();
    if (item.at_bottom) cursor_ = std::max(cursor_, area_.height - item.height);
    if (item.unnumbered) page.numbered = false;
    const double left = area_.left, top = area_.top + cursor_;
    for (const PlacedLine& line : item.lines) {
      PlacedLine placed = line;
      placed.x += left;
      placed.baseline += top;
      page.lines.push_back(std::move(placed));
    }
    for (const Rule& rule : item.rules) {
      page.rules.push_back(
          {rule.x0 + left, rule.y0 + top, rule.x1 + left, rule.y1 + top, rule.width, rule.rgb});
    }
    for (const OutlineEntry& entry : item.outline) {
      page.outline.push_back({entry.text, entry.level, top});
    }
    for (const PlacedImage& image : item.images) {
      page.images.push_back({image.x + left, image.y + top, image.width, image.height, image.png});
    }
    cursor_ += item.height;
  }

  std::vector<Item>& items_;
  std::vector<Page> pages_;
  Area area_ = kPortrait;
  bool landscape_ = false;
  double cursor_ = 0;
};

// "— N —" in 4号宋体, 7 mm below the type area: odd pages right, even pages
// left, one character in (7.5). A landscape page (a wide table) keeps it
// where the portrait pages have it (8: 表格横排时，页码位置与公文其他页码保持
// 一致): its top is the portrait page's left edge (the 订口 of an odd page),
// so a point (x, y) of the portrait page is (width − y, x) on it and the
// number is turned to read downwards.
void AddPageNumbers(std::vector<Page>& pages, const Shaper& shaper) {
  const double size = L::kPageNumberFontPt;
  for (Page& page : pages) {
    if (!page.numbered) continue;
    double width = 0;
    PlacedLine line = shaper.Single(absl::StrCat("— ", page.number, " —"), Face::kSongTi, size, 0,
                                    kBlack, &width);
    const double inset = Pt(L::kPageNumberInset);
    const double x = page.number % 2 == 1 ? kPortrait.left + kPortrait.width - inset - width
                                          : kPortrait.left + inset;
    const double baseline =
        kPortrait.page_height - Pt(L::kFooterDistance) - size / 2 + kEmMiddle * size;
    if (page.width > page.height) {
      line.x = page.width - baseline;
      line.baseline = x;
      line.turned = true;
    } else {
      line.x = x;
      line.baseline = baseline;
    }
    page.lines.push_back(std::move(line));
  }
}

}  // namespace

PangoLayoutLine* PlacedLine::Line() const {
  return pango_layout_get_line_readonly(layout.get(), index);
}

std::string PlacedLine::Text() const {
  const PangoLayoutLine* line = Line();
  if (line == nullptr) return "";
  const std::string_view text = pango_layout_get_text(layout.get());
  std::string out(
      text.substr(static_cast<size_t>(line->start_index), static_cast<size_t>(line->length)));
  // The zero-width spaces that allow breaks at quotes (WithQuoteBreaks).
  for (size_t zwsp; (zwsp = out.find("\u200B")) != std::string::npos;) out.erase(zwsp, 3);
  return out;
}

absl::StatusOr<Document> LayOut(std::string_view text, const docx::DocumentFrame& frame,
                                const FontMap& fonts) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines =
      docx::ClassifyText(text, {.recipients_given = !frame.main_recipients.empty()});
  if (!lines.ok()) return lines.status();
  if (absl::Status s = docx::CheckFrame(frame); !s.ok()) return s;
  Document doc;
  for (const ClassifiedLine& line : *lines) {
    if (line.kind == LineKind::kTitle) doc.title = line.text;
    if (line.kind == LineKind::kIssuer) doc.issuer = line.text;
  }
  if (doc.title.empty()) {
    return absl::InvalidArgumentError(
        "text: no title; the first non-blank line is the document's title");
  }
  std::vector<Item> items = Builder(*lines, frame, fonts).Build();
  doc.pages = Paginator(items).Run();
  AddPageNumbers(doc.pages, Shaper(fonts));
  return doc;
}

}  // namespace govreport::layout
