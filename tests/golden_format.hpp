// What tests/data/golden_forward.txt and golden_backward.txt share (tools/gen_golden.py writes both;
// each file's header describes its format): the file's frame, the lines every case begins with, and exact
// hex-float values.  Each test reads its own keys and keeps its own checks.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace golden_format {

// Errors name the file and the line being read.
struct Location {
  std::string file;
  int line = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(file + ":" + std::to_string(line) + ": " + what);
  }
};

inline double parse_value(const std::string& token, const Location& at) {
  // strtod reads hex floats, "inf", "-inf" and "nan" exactly.
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (token.empty() || end != token.c_str() + token.size()) at.fail("bad value '" + token + "'");
  return v;
}

inline std::int64_t parse_int(const std::string& token, const Location& at) {
  char* end = nullptr;
  const long long v = std::strtoll(token.c_str(), &end, 10);
  if (token.empty() || end != token.c_str() + token.size() || v < 0) at.fail("bad integer '" + token + "'");
  return v;
}

// The fields every case has.  A test's case type derives from it.
struct CaseHeader {
  int index = -1;
  std::string name;
  bool f64 = false;
  bool log_target = false;
  std::vector<std::int64_t> shape;
  std::size_t numel = 0;
  bool shape_seen = false;
};

// A float32 case holds float values, exactly (a NaN's payload is not recorded).
inline void check_float32(const CaseHeader& c, double v, const std::string& key, const Location& at) {
  if (!c.f64 && !std::isnan(v) && static_cast<double>(static_cast<float>(v)) != v)
    at.fail(key + ": not a float32 value");
}

template <class Case>
struct File {
  std::string torch_version;
  std::vector<Case> cases;
};

// Reads `path` into `file`: "<format> 1" first, "torch <version>", "cases <count>" and the cases, each
// from "case <index> <name>" to "end"; blank lines and '#' comments anywhere.  dtype, log_target and shape
// are read here; every other line of a case goes to read_key(key, in, c, at), which fails on a key it does
// not know and returns true at the "end" that completes c.
template <class Case, class ReadKey>
void parse(const std::string& path, const std::string& format, File<Case>& file, ReadKey read_key) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  Location at{path.substr(path.find_last_of('/') + 1)};
  std::string text;
  std::size_t declared = 0;
  bool magic = false, in_case = false;
  Case c;
  while (std::getline(f, text)) {
    ++at.line;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream in(text);
    std::string key;
    in >> key;
    if (!magic) {
      std::string version;
      in >> version;
      if (key != format || version != "1") at.fail("not a " + format + " 1 file");
      magic = true;
    } else if (key == "torch") {
      in >> file.torch_version;
    } else if (key == "cases") {
      std::string n;
      in >> n;
      declared = static_cast<std::size_t>(parse_int(n, at));
    } else if (key == "case") {
      if (in_case) at.fail("case before end");
      c = Case{};
      std::string idx;
      in >> idx >> c.name;
      c.index = static_cast<int>(parse_int(idx, at));
      if (c.index != static_cast<int>(file.cases.size())) at.fail("case index out of order");
      in_case = true;
    } else if (!in_case) {
      at.fail("'" + key + "' outside a case");
    } else if (key == "dtype") {
      std::string d;
      in >> d;
      if (d != "float32" && d != "float64") at.fail("bad dtype " + d);
      c.f64 = d == "float64";
    } else if (key == "log_target") {
      std::string v;
      in >> v;
      if (v != "0" && v != "1") at.fail("bad log_target " + v);
      c.log_target = v == "1";
    } else if (key == "shape") {
      std::string n, s;
      in >> n;
      const std::int64_t ndim = parse_int(n, at);
      c.numel = 1;
      for (std::int64_t i = 0; i < ndim; ++i) {
        if (!(in >> s)) at.fail("shape too short");
        c.shape.push_back(parse_int(s, at));
        c.numel *= static_cast<std::size_t>(c.shape.back());
      }
      if (in >> s) at.fail("shape too long");
      c.shape_seen = true;
    } else if (read_key(key, in, c, at)) {
      file.cases.push_back(std::move(c));
      in_case = false;
    }
  }
  if (!magic) throw std::runtime_error(path + ": empty");
  if (in_case) at.fail("missing end");
  if (declared != file.cases.size())
    throw std::runtime_error(path + ": declares " + std::to_string(declared) + " cases, holds " +
                             std::to_string(file.cases.size()));
}

// A value's exact bits, readably, for messages.
inline std::string hex(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

}  // namespace golden_format
