// docs/TOUR.md names a file and a function at every stop, as markdown links
// [`Tape::backward`](../autograd/tape.cpp). This test reads the tour and checks that every linked
// file exists and that every linked name is defined there (a call `name(`, a template
// specialisation `name<...>(` or a `struct`/`class name`), so the tour cannot drift from the code.
#include "tests/catch.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Does `source` define (or at least declare with a body or call signature) `name`?
bool names_in(const std::string& source, const std::string& name) {
  const std::string last = name.substr(name.rfind(':') == std::string::npos ? 0 : name.rfind(':') + 1);
  const std::string qualified = std::regex_replace(name, std::regex(R"([.*+?^${}()|\[\]\\])"), R"(\$&)");
  const std::string bare = std::regex_replace(last, std::regex(R"([.*+?^${}()|\[\]\\])"), R"(\$&)");
  const std::regex call("\\b" + qualified + R"(\s*(<[^<>()]*>)?\s*\()");
  const std::regex type("\\b(struct|class)\\s+" + bare + "\\b");
  return std::regex_search(source, call) || std::regex_search(source, type);
}

}  // namespace

TEST_CASE("every file and function the tour links to exists", "[docs][tour]") {
  const std::string root = FWP_SOURCE_DIR;
  const std::string tour = read_file(root + "/docs/TOUR.md");
  REQUIRE(!tour.empty());
  const std::regex link(R"(\[`([A-Za-z_][A-Za-z0-9_:]*)`\]\(\.\./([^)#]+)\))");
  int checked = 0;
  for (auto it = std::sregex_iterator(tour.begin(), tour.end(), link); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[1], path = (*it)[2];
    INFO("docs/TOUR.md links `" << name << "` to " << path);
    const std::string source = read_file(root + "/" + path);
    CHECK(!source.empty());  // the file exists (and is not empty)
    if (source.empty()) continue;
    // a link whose text is the file's own name ([`fast_weight_op.cpp`](...)) names only the file
    if (path.size() >= name.size() && path.compare(path.size() - name.size(), name.size(), name) == 0)
      continue;
    CHECK(names_in(source, name));
    ++checked;
  }
  CHECK(checked >= 40);  // the tour keeps naming functions at every stop
}

TEST_CASE("the tour checker rejects a name that is not there", "[docs][tour]") {
  const std::string source = "struct DeltaRuleOp : Op {};\nVariable delta_rule(const Variable& q);\n"
                             "template <> void gemm<float>(bool a);\n";
  CHECK(names_in(source, "delta_rule"));
  CHECK(names_in(source, "DeltaRuleOp"));
  CHECK(names_in(source, "gemm"));
  CHECK_FALSE(names_in(source, "delta_rul"));
  CHECK_FALSE(names_in(source, "sum_rule"));
  CHECK_FALSE(names_in(source, "Tape::backward"));
}
